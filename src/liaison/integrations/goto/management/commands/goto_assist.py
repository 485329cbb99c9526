"""``liaison goto_assist``: the GoToAssist sessions report, connection codes and the queue check.

    liaison goto_assist report [--csv FILE] [--integration ID] [--agent A] [--portal P]
                               [--resolution R] [--rating-min N] [--rating-max N] [--status S]
    liaison goto_assist codes --integration ID
    liaison goto_assist cancel-code --integration ID CODE
    liaison goto_assist check-queue          # the waiting-queue rules, now
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from liaison.core.errors import LiaisonError
from liaison.integrations.goto import rules, support


class Command(BaseCommand):
    help = "GoToAssist: export the sessions report, list or cancel connection codes, check the waiting queue."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        report = sub.add_parser("report", help="The sessions report (CSV to a file or the screen)")
        report.add_argument("--csv", help="Write CSV to this file (default: the screen)")
        for name in ("integration", "agent", "portal", "resolution", "status", "contact"):
            report.add_argument(f"--{name}")
        report.add_argument("--rating-min", type=int, choices=range(1, 6))
        report.add_argument("--rating-max", type=int, choices=range(1, 6))
        codes = sub.add_parser("codes", help="Open Phone Mode connection codes")
        codes.add_argument("--integration", required=True)
        cancel = sub.add_parser("cancel-code", help="Cancel a connection code")
        cancel.add_argument("--integration", required=True)
        cancel.add_argument("code")
        sub.add_parser("check-queue", help="Evaluate the waiting-queue rules now")

    def handle(self, *args, action, **options):
        try:
            getattr(self, action.replace("-", "_"))(options)
        except LiaisonError as exc:
            raise CommandError(str(exc)) from None

    def report(self, options):
        params = {k: options.get(k) for k in ("integration", "agent", "portal", "resolution", "status", "contact",
                                              "rating_min", "rating_max")}
        lines = support.export_csv(support.filter_sessions(params))
        if options["csv"]:
            count = -1
            with open(options["csv"], "w", encoding="utf-8", newline="") as out:
                for line in lines:
                    out.write(line)
                    count += 1
            self.stdout.write(f"{count} session(s) written to {options['csv']}.")
        else:
            for line in lines:
                sys.stdout.write(line)

    def codes(self, options):
        rows = support.open_codes(support.assist_account(options["integration"]))
        for row in rows:
            who = row["contact"].email if row["contact"] else "made outside Liaison"
            self.stdout.write(f"{row['code']}  until {row['expires_at']:%Y-%m-%d %H:%M}  {who}")
        if not rows:
            self.stdout.write("No open connection codes.")

    def cancel_code(self, options):
        support.cancel_code(support.assist_account(options["integration"]), options["code"])
        self.stdout.write(f"Connection code {options['code']} cancelled.")

    def check_queue(self, options):
        result = rules.check_waiting()
        for problem in result["problems"]:
            self.stderr.write(problem)
        counts = ", ".join(f"account {k}: {v} waiting" for k, v in result["counts"].items()) or "no queue read"
        self.stdout.write(f"{result['rules']} rule(s) checked ({counts}); {result['notified']} notification(s).")
