import json

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from liaison.core.cli import report, run_job_with_progress
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.emails import broadcasts, services
from liaison.emails.models import Email, Send


class Command(BaseCommand):
    help = ("E-mails: list; show ID (results); preview --email ID [--contact ADDRESS]; "
            "send --email ID --contact ADDRESS [--context JSON] [--dedupe-key KEY]; test --email ID --to ADDRESS; "
            "recover [--older-than SECONDS] (sends a crash left in 'sending'); "
            "recipients ID; broadcast ID [--yes] [--background]; pause ID; resume ID [--background]; cancel ID.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="List the e-mails with their results.")
        show = sub.add_parser("show", help="An e-mail's results and latest sends.")
        show.add_argument("email_id", type=int)
        prev = sub.add_parser("preview", help="Print the subject and text part as a contact would get them.")
        prev.add_argument("--email", type=int, required=True, dest="email_id")
        prev.add_argument("--contact", default="", help="E-mail address or id (default: a sample contact).")
        prev.add_argument("--html", action="store_true", help="Print the HTML part instead of the text part.")
        send = sub.add_parser("send", help="Send a template e-mail to one contact, now, in this process.")
        send.add_argument("--email", type=int, required=True, dest="email_id")
        send.add_argument("--contact", required=True, help="The contact's e-mail address or id.")
        send.add_argument("--context", default="", help="JSON object stored on the send (tokens can read it).")
        send.add_argument("--dedupe-key", default=None, help="Sending again with the same key sends nothing more.")
        test = sub.add_parser("test", help="Send a test message to an address.")
        test.add_argument("--email", type=int, required=True, dest="email_id")
        test.add_argument("--to", required=True)
        test.add_argument("--contact", default="", help="Render for this contact (default: a sample contact).")
        recover = sub.add_parser("recover", help="Repair sends a crash left in 'sending' (never sends twice).")
        recover.add_argument("--older-than", type=int, default=None, metavar="SECONDS")
        recipients = sub.add_parser("recipients", help="Who a segment e-mail's broadcast would go to now.")
        recipients.add_argument("email_id", type=int)
        broadcast = sub.add_parser("broadcast", help=("Send a segment e-mail to its audiences (again: only to "
                                                      "contacts who have not had it), with a progress bar."))
        broadcast.add_argument("email_id", type=int)
        broadcast.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        broadcast.add_argument("--background", action="store_true", help="Queue the job instead of running it here.")
        for name, text in (("pause", "Pause a broadcast (from another terminal, or the job in the background)."),
                           ("cancel", "Cancel a broadcast: messages still waiting are not sent.")):
            sub.add_parser(name, help=text).add_argument("email_id", type=int)
        resume = sub.add_parser("resume", help="Resume a paused or stopped broadcast where it stopped.")
        resume.add_argument("email_id", type=int)
        resume.add_argument("--background", action="store_true", help="Queue the job instead of running it here.")

    def handle(self, *args, action, **options):
        console = Console()
        try:
            getattr(self, f"_{action}")(console, options)
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from None
        except LiaisonError as exc:
            raise CommandError(str(exc)) from None

    def _email(self, email_id: int) -> Email:
        email = Email.objects.filter(pk=email_id).first()
        if email is None:
            raise CommandError(f"There is no e-mail #{email_id}.")
        return email

    def _contact(self, value: str, required: bool = True):
        contact = services.find_contact(value) if value else None
        if contact is None and (required or value):
            raise CommandError(f"No contact matches {value!r} (give an e-mail address or an id).")
        return contact

    def _list(self, console, options):
        emails = list(Email.objects.all()[:500])
        stats = services.stats_for([e.pk for e in emails])
        table = Table("#", "name", "kind", "published", "sent", "opened", "clicked", "failed", "not sent")
        for e in emails:
            s = stats[e.pk]
            table.add_row(str(e.pk), e.name, e.kind, "yes" if e.published else "no", str(s["sent"]),
                          str(s["opened"]), str(s["clicked"]), str(s["failed"]), str(s["skipped"]))
        console.print(table)

    def _show(self, console, options):
        email = self._email(options["email_id"])
        stats = services.email_stats(email)
        console.print(f"[bold]#{email.pk} {email.name}[/bold] ({email.get_kind_display()}) — {email.subject}")
        console.print(", ".join(f"{k} {v}" for k, v in stats.items()))
        table = Table("send", "to", "status", "sent", "opens", "clicks", "reason")
        for send in Send.objects.filter(email=email).order_by("-created_at")[:20]:
            table.add_row(str(send.pk), send.to_email, send.status,
                          send.sent_at.strftime("%Y-%m-%d %H:%M") if send.sent_at else "", str(send.open_count),
                          str(send.click_count), send.reason[:60])
        console.print(table)

    def _preview(self, console, options):
        email = self._email(options["email_id"])
        result = services.preview(email, self._contact(options["contact"], required=False))
        if result.problems:
            raise CommandError(" ".join(m for ms in result.problems.values() for m in ms))
        if result.skip_reason:
            console.print(f"[yellow]This contact would not get it:[/yellow] {result.skip_reason}")
        console.print(f"[bold]Subject:[/bold] {result.subject}\n")
        self.stdout.write(result.html if options["html"] else result.text)

    def _send(self, console, options):
        email = self._email(options["email_id"])
        contact = self._contact(options["contact"])
        try:
            context = json.loads(options["context"]) if options["context"] else None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--context is not valid JSON: {exc}") from None
        if context is not None and not isinstance(context, dict):
            raise CommandError("--context must be a JSON object.")
        send = services.send_email(email, contact, context=context, dedupe_key=options["dedupe_key"],
                                   dispatch=False)
        if send.job_id is None or send.status != Send.Status.QUEUED:
            console.print(f"Send #{send.pk}: {send.get_status_display()}{': ' + send.reason if send.reason else ''}")
            if send.status in (Send.Status.SKIPPED, Send.Status.FAILED):
                raise SystemExit(1)
            return
        job = run_job_with_progress(send.job, console)
        send.refresh_from_db()
        console.print(f"Send #{send.pk}: {send.get_status_display()}{': ' + send.reason if send.reason else ''}")
        status = report(job, console)
        if status or send.status != Send.Status.SENT:
            raise SystemExit(1)

    def _test(self, console, options):
        email = self._email(options["email_id"])
        contact = self._contact(options["contact"], required=False)
        job = services.send_test(email, options["to"], contact=contact, dispatch=False)
        status = report(run_job_with_progress(job, console), console)
        if status:
            raise SystemExit(status)

    def _recover(self, console, options):
        from datetime import timedelta

        older = timedelta(seconds=options["older_than"]) if options["older_than"] is not None else None
        recovery = services.recover_interrupted(older_than=older)
        console.print(f"{len(recovery.interrupted)} send(s) marked failed (they may have reached the server; never "
                      f"sent twice), {len(recovery.requeued)} queued again, {len(recovery.jobs)} job(s) started.")

    def _print_recipients(self, console, email):
        r = broadcasts.recipients(email)
        console.print(f"[bold]#{email.pk} {email.name}[/bold] → {'; '.join(broadcasts.describe_audiences(email)) or 'no audience'}")
        console.print(f"{r.to_send} new recipient(s), {r.waiting} waiting from before; in the audience {r.in_audience}: "
                      f"{r.already} already had it, {r.do_not_contact} do not contact, {r.no_address} without an address.")
        return r

    def _recipients(self, console, options):
        self._print_recipients(console, self._email(options["email_id"]))

    def _run_broadcast(self, console, email, broadcast, background):
        if background:
            console.print(f"Queued as job #{broadcast.job_id}.")
            return
        job = run_job_with_progress(broadcast.job, console)
        summary = broadcasts.summary(email)
        stats = summary["stats"]
        console.print(f"{summary['status_label']}: {stats['sent']} sent, {stats['failed']} failed, "
                      f"{stats['skipped']} not sent, {stats['queued']} waiting.")
        for row in stats["reasons"]:
            console.print(f"  {row['count']} × {row['reason']}")
        if job.status == job.Status.CANCELLED:
            console.print(f"Stopped; continue with 'liaison emails resume {email.pk}'.")
            return
        if report(job, console):
            raise SystemExit(1)

    def _broadcast(self, console, options):
        email = self._email(options["email_id"])
        r = self._print_recipients(console, email)
        if not options["yes"] and r.to_send + r.waiting:
            answer = input(f"Send it to {r.to_send + r.waiting} contact(s) now? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Not sent.")
        broadcast = broadcasts.start(email, dispatch=options["background"])
        self._run_broadcast(console, email, broadcast, options["background"])

    def _resume(self, console, options):
        email = self._email(options["email_id"])
        broadcast = broadcasts.resume(email, dispatch=options["background"])
        self._run_broadcast(console, email, broadcast, options["background"])

    def _pause(self, console, options):
        broadcast = broadcasts.pause(self._email(options["email_id"]))
        console.print(f"Paused (job #{broadcast.job_id} stops after the message in hand).")

    def _cancel(self, console, options):
        broadcasts.cancel(self._email(options["email_id"]))
        console.print("Cancelled: messages still waiting are marked not sent.")
