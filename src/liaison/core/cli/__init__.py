"""Helpers shared by management commands."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from liaison.core import jobs
from liaison.core.models import Job


def run_job_with_progress(job: Job, console: Console | None = None) -> Job:
    """Run a job in this process while a progress bar follows it; returns the finished row."""
    console = console or Console()
    done = threading.Event()

    def run():
        try:
            jobs.run_job(job.pk)
        finally:
            from django.db import connection

            connection.close()
            done.set()

    thread = threading.Thread(target=run, name=f"job-{job.pk}")
    thread.start()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[message]}"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        task = progress.add_task(job.label, total=None, message="")
        while not done.wait(0.3):
            row = Job.objects.filter(pk=job.pk).values("progress_current", "progress_total",
                                                       "progress_message").first()
            if row:
                progress.update(task, completed=row["progress_current"], total=row["progress_total"],
                                message=row["progress_message"][:60])
        row = Job.objects.get(pk=job.pk)
        progress.update(task, completed=row.progress_current, total=row.progress_total or row.progress_current or 1,
                        message=row.progress_message[:60])
    thread.join()
    return Job.objects.get(pk=job.pk)


def report(job: Job, console: Console) -> int:
    """Print a job's outcome; the exit status for the command."""
    if job.status == Job.Status.SUCCEEDED:
        console.print(f"[green]Done.[/green] {job.result if job.result is not None else ''}")
        return 0
    if job.status == Job.Status.RETRYING:
        console.print(f"[yellow]Failed for now:[/yellow] {job.error}\nIt will retry in the background "
                      f"(job #{job.pk}) at {job.run_after:%Y-%m-%d %H:%M:%S} UTC.")
        return 1
    console.print(f"[red]{job.get_status_display()}:[/red] {job.error}  (job #{job.pk}; 'liaison jobs show {job.pk}')")
    return 1


def write_lines(lines: Iterable[str], path: str | None) -> None:
    """Write an export to a file (UTF-8, as is) or to standard output."""
    out = open(path, "w", encoding="utf-8", newline="") if path else sys.stdout
    try:
        for line in lines:
            out.write(line)
    finally:
        if out is not sys.stdout:
            out.close()
