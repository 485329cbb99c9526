from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "liaison.core"
    label = "core"
    verbose_name = "Liaison core"

    def ready(self) -> None:
        from liaison.core import events
        from liaison.core.contributions import JobKind, NavItem
        from liaison.core.registry import registry

        registry.register(
            JobKind(key=events.JOB_KIND, label=events.LABEL, run=events.run_dispatch,
                    max_attempts=5, backoff=10, retry_on=(Exception,), concurrency_key=lambda params: events.JOB_KIND,
                    default_cron="* * * * *"),
            NavItem(key="core.jobs", label="Jobs", url_name="core:jobs", section="settings", order=50,
                    active_prefix="/jobs/"),
            NavItem(key="core.schedules", label="Schedules", url_name="core:schedules", section="settings", order=60,
                    active_prefix="/schedules/"),
        )
        checks.register(check_job_queues)
        post_migrate.connect(_default_schedules, sender=self)


def _default_schedules(sender, using="default", **kwargs):
    from liaison.core.schedules import ensure_default_schedules

    ensure_default_schedules()


def check_job_queues(app_configs, **kwargs):
    """Every job kind must name a queue the task backend serves."""
    from django.conf import settings

    from liaison.core.contributions import JobKind
    from liaison.core.registry import registry

    return [
        checks.Error(f"Job kind {kind.key} uses queue {kind.queue!r}, which is not in TASK_QUEUES.", id="liaison.E001")
        for kind in registry.all(JobKind)
        if kind.queue not in settings.TASK_QUEUES
    ]
