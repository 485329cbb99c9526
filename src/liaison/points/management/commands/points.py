from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from rich.console import Console
from rich.table import Table

from liaison.core.cli import report, run_job_with_progress
from liaison.core.models import Job
from liaison.points import services
from liaison.points.models import PointTrigger, TriggerFiring


class Command(BaseCommand):
    help = ("Points: list rules and triggers, or evaluate the triggers now "
            "(liaison points triggers run [--trigger ID]) and run their actions here.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        rules = sub.add_parser("rules", help="Point rules.")
        rules.add_subparsers(dest="action", required=True).add_parser("list", help="List the rules.")
        triggers = sub.add_parser("triggers", help="Point triggers.")
        actions = triggers.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="List the triggers with their firings.")
        run = actions.add_parser("run", help="Compare contacts' points with the active triggers now and run the "
                                             "actions of those who reached one.")
        run.add_argument("--trigger", type=int, metavar="ID", help="Only this trigger (default: all active).")

    def handle(self, *args, what, action, **options):
        console = Console()
        if what == "rules":
            table = Table("#", "rule", "when", "active", "awards")
            for rule in services.rule_rows():
                problem = services.rule_problem(rule)
                table.add_row(str(rule.pk), rule.name, services.describe_rule(rule) + (f" — {problem}" if problem else ""),
                              "yes" if rule.active else "no", str(rule.award_count))
            console.print(table)
            return
        if action == "list":
            triggers = list(PointTrigger.objects.all())
            counts = services.firing_counts([t.pk for t in triggers])
            table = Table("#", "trigger", "threshold", "actions", "active", "done", "failed", "waiting")
            for t in triggers:
                c = counts.get(t.pk, {})
                table.add_row(str(t.pk), t.name, str(t.threshold), "; ".join(services.describe_actions(t.actions)),
                              "yes" if t.active else "no", str(c.get("succeeded", 0)), str(c.get("failed", 0)),
                              str(c.get("waiting", 0)))
            console.print(table)
            return
        self.run_triggers(console, options["trigger"])

    def run_triggers(self, console: Console, trigger_id: int | None) -> None:
        trigger = None
        if trigger_id is not None:
            trigger = PointTrigger.objects.filter(pk=trigger_id).first()
            if trigger is None:
                raise CommandError(f"There is no trigger #{trigger_id} ('liaison points triggers list' shows them).")
            if not trigger.active:
                raise CommandError(f"The trigger “{trigger.name}” is not active.")
        with console.status("Comparing contacts' points with the triggers…"):
            result = services.evaluate(triggers=[trigger] if trigger else None, dispatch_now=False)
            job_ids = result.jobs + (services.requeue_stranded(dispatch_now=False) if trigger is None else [])
        console.print(f"{result.fired} contact(s) reached a trigger.")
        # Their actions run here, one job after the other (the jobs were not handed to the workers).
        for job in Job.objects.filter(pk__in=job_ids).order_by("pk"):
            finished = run_job_with_progress(job, console)
            if finished.status not in (Job.Status.SUCCEEDED, Job.Status.RETRYING):
                report(finished, console)
        firings = TriggerFiring.objects.filter(job_id__in=job_ids)
        counts = dict.fromkeys(TriggerFiring.Status.values, 0)
        counts.update(dict(firings.values_list("status").annotate(n=Count("pk")).values_list("status", "n")))
        if job_ids:
            console.print(f"Actions: {counts['succeeded']} contact(s) done, {counts['failed']} failed, "
                          f"{counts['queued'] + counts['retrying']} to try again in the background.")
        for f in firings.filter(status=TriggerFiring.Status.FAILED).select_related("contact")[:20]:
            console.print(f"[red]{f.contact.email}[/red]: {f.message}")
