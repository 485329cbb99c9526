from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from liaison.core import jobs
from liaison.core.models import Job


class Command(BaseCommand):
    help = "Look at and run background jobs: list, show ID, run (queued jobs, in this process), retry ID, cancel ID."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "show", "run", "retry", "cancel"])
        parser.add_argument("job_id", nargs="?", type=int)
        parser.add_argument("--status", default="")
        parser.add_argument("--limit", type=int, default=30)

    def handle(self, *args, action, job_id, status, limit, **options):
        console = Console()
        if action == "list":
            qs = Job.objects.all()
            if status:
                qs = qs.filter(status=status)
            table = Table("#", "job", "status", "attempts", "created", "error")
            for job in qs[:limit]:
                table.add_row(str(job.pk), job.label, job.status, f"{job.attempts}/{job.max_attempts}",
                              job.created_at.strftime("%Y-%m-%d %H:%M:%S"), job.error[:80])
            console.print(table)
            return
        if action == "run":
            ran = jobs.run_queued(limit=limit if limit != 30 else None)
            console.print(f"Ran {ran} job(s).")
            return
        if job_id is None:
            raise CommandError(f"'{action}' needs a job id.")
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"There is no job #{job_id}.")
        if action == "show":
            console.print(f"[bold]#{job.pk} {job.label}[/bold] ({job.kind}) — {job.get_status_display()}")
            console.print(f"attempts {job.attempts}/{job.max_attempts}; progress {job.progress_current}"
                          f"/{job.progress_total or '?'} {job.progress_message}")
            if job.error:
                console.print(f"[red]{job.error}[/red]")
            console.print(job.log)
        elif action == "retry":
            new = jobs.retry(job)
            console.print(f"Started again as job #{new.pk}.")
        elif action == "cancel":
            console.print("Cancelled." if jobs.cancel(job) else "This job has already finished.")
