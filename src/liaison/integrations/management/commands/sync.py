from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from liaison.core import jobs
from liaison.core.cli import report, run_job_with_progress
from liaison.core.contributions import IntegrationSpec
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry
from liaison.integrations.models import Integration


class Command(BaseCommand):
    help = ("Synchronise an integration now, with a progress bar and a summary: "
            "liaison sync <provider> [--account NAME|ID] [--full] [provider options].")

    def add_arguments(self, parser):
        parser.add_argument("provider", help="Integration key, e.g. " + ", ".join(
            s.key for s in registry.all(IntegrationSpec)) if registry.all(IntegrationSpec) else "Integration key")
        parser.add_argument("--account", help="Account name or id (default: every published account).")
        parser.add_argument("--full", action="store_true", help="Re-read everything, ignoring cursors.")
        parser.add_argument("--background", action="store_true", help="Queue the sync for the worker and return.")
        seen = set()
        for spec in registry.all(IntegrationSpec):
            for option, help_text in spec.sync_options.items():
                if option in seen or option == "full":
                    continue
                seen.add(option)
                parser.add_argument(f"--{option.replace('_', '-')}", dest=f"opt_{option}",
                                    help=f"{help_text} ({spec.label})")

    def handle(self, *args, provider, account, full, background, **options):
        console = Console()
        spec = registry.find(IntegrationSpec, provider)
        if spec is None:
            raise CommandError(f"No integration called {provider!r}. Installed: "
                               f"{', '.join(registry.keys(IntegrationSpec)) or 'none'}.")
        sync_options = {key[4:]: value for key, value in options.items() if key.startswith("opt_") and value}
        unknown = set(sync_options) - set(spec.sync_options)
        if unknown:
            raise CommandError(f"{spec.label} does not take --{', --'.join(sorted(unknown))}.")
        if full:
            sync_options["full"] = True
        try:
            sync_options = spec.clean_sync_options(sync_options)
        except ValidationFailed as exc:
            raise CommandError(" ".join(m for messages in exc.errors.values() for m in messages)) from None
        qs = Integration.objects.filter(spec_key=provider)
        if account:
            qs = qs.filter(pk=int(account)) if account.isdigit() else qs.filter(name__iexact=account)
        else:
            qs = qs.filter(published=True)
        integrations = list(qs)
        if not integrations:
            raise CommandError(f"No {'such ' if account else 'published '}{spec.label} account.")
        status = 0
        for integration in integrations:
            if not integration.published:
                console.print(f"[yellow]{integration.name} is unpublished; skipped.[/yellow]")
                continue
            params = {"integration_id": integration.pk, "trigger": "cli", "options": sync_options}
            job = jobs.enqueue("integrations.sync", params, label=f"Sync {integration.name}",
                               dispatch_now=background)
            if background:
                console.print(f"Queued job #{job.pk} for {integration.name}.")
                continue
            if job.status != job.Status.QUEUED or job.params != params:
                console.print(f"A sync of {integration.name} is already queued or running (job #{job.pk}).")
                continue
            job = run_job_with_progress(job, console)
            status = max(status, report(job, console))
            run = integration.runs.order_by("-started_at").first()
            if run:
                console.print(f"{integration.name}: {run.get_status_display()} — {run.message}")
                for error in run.errors[-10:]:
                    console.print(f"  [red]•[/red] {error.get('message')}")
        if status:
            raise SystemExit(status)
