from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from liaison.core.cli import report, run_job_with_progress
from liaison.segments import filters as engine
from liaison.segments import services
from liaison.segments.models import Segment


class Command(BaseCommand):
    help = "Segments: list them, or rebuild them (liaison segments rebuild [--segment ID]) with a progress bar."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="List the segments with their member counts.")
        rebuild = sub.add_parser("rebuild", help="Recompute the members of one segment, or of all.")
        rebuild.add_argument("--segment", type=int, metavar="ID", help="Only this segment (default: all).")

    def handle(self, *args, action, **options):
        console = Console()
        if action == "list":
            filters = engine.catalogue()
            table = Table("#", "segment", "members", "last rebuilt", "problems")
            for segment in Segment.objects.all():
                problems = "; ".join(p.reason for p in engine.problems(segment.filters, filters))
                table.add_row(str(segment.pk), segment.name, str(segment.member_count),
                              segment.built_at.strftime("%Y-%m-%d %H:%M") if segment.built_at else "never", problems)
            console.print(table)
            return
        segment = None
        if options["segment"] is not None:
            segment = Segment.objects.filter(pk=options["segment"]).first()
            if segment is None:
                raise CommandError(f"There is no segment #{options['segment']} ('liaison segments list' shows them).")
        job = services.request_rebuild(segment, dispatch_now=False)
        if job.status != job.Status.QUEUED or job.attempts:
            raise CommandError(f"A rebuild of this is already running as job #{job.pk} ('liaison jobs show {job.pk}').")
        job = run_job_with_progress(job, console)
        for result in (job.result or {}).get("segments", []):
            name = Segment.objects.filter(pk=result["segment"]).values_list("name", flat=True).first() or "?"
            if result.get("skipped"):
                console.print(f"[yellow]{name}: skipped[/yellow] — {result['skipped']}")
            else:
                console.print(f"{name}: {result['members']} members (+{result['added']} −{result['removed']})")
        status = report(job, console)
        if status:
            raise SystemExit(status)
