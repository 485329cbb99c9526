from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from liaison.campaigns import services
from liaison.campaigns.models import Campaign
from liaison.core.cli import report, run_job_with_progress
from liaison.core.errors import LiaisonError


class Command(BaseCommand):
    help = "Campaigns: list them, or run what is due now (liaison campaigns run [--campaign ID]) with a progress bar."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="List the campaigns with their status, contacts and failures.")
        run = sub.add_parser("run", help="Enrol new contacts and run the steps that are due (published campaigns).")
        run.add_argument("--campaign", type=int, metavar="ID", help="Only this campaign (default: all published).")

    def handle(self, *args, action, **options):
        console = Console()
        if action == "list":
            table = Table("#", "campaign", "status", "sources", "in progress", "completed", "failed steps", "last run")
            for campaign in Campaign.objects.all():
                enrollments = services.enrollment_stats(campaign)
                failed = sum(s["failed"] for s in services.step_stats(campaign).values())
                table.add_row(str(campaign.pk), campaign.name, campaign.get_status_display(),
                              "; ".join(services.describe_sources(campaign)) or "—", str(enrollments["active"]),
                              str(enrollments["completed"]), str(failed),
                              campaign.last_run_at.strftime("%Y-%m-%d %H:%M") if campaign.last_run_at else "never")
            console.print(table)
            return
        campaign = None
        if options["campaign"] is not None:
            campaign = Campaign.objects.filter(pk=options["campaign"]).first()
            if campaign is None:
                raise CommandError(f"There is no campaign #{options['campaign']} ('liaison campaigns list' shows them).")
        try:
            job = services.run_now(campaign, dispatch_now=False)
        except LiaisonError as exc:
            raise CommandError(str(exc)) from None
        if job.status != job.Status.QUEUED or job.attempts:
            raise CommandError(f"This run is already going on as job #{job.pk} ('liaison jobs show {job.pk}').")
        job = run_job_with_progress(job, console)
        result = job.result or {}
        if result:
            console.print(f"{result.get('enrolled', 0)} contacts enrolled, {result.get('executed', 0)} steps run "
                          f"({result.get('done', 0)} done, {result.get('failed', 0)} failed, "
                          f"{result.get('retried', 0)} to retry, {result.get('timed_out', 0)} decisions timed out).")
            for step_id, reason in (result.get("blocked") or {}).items():
                console.print(f"[yellow]Step #{step_id}[/yellow]: {reason}")
        status = report(job, console)
        if status:
            raise SystemExit(status)
