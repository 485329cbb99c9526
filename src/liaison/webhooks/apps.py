from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: signed deliveries of Liaison's events to other systems."""

    name = "liaison.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from liaison.core.contributions import JobKind, NavItem
        from liaison.core.errors import RetryableError
        from liaison.core.registry import registry
        from liaison.webhooks import services

        registry.register(
            NavItem(key="webhooks.subscriptions", label="Webhooks", url_name="webhooks:list", section="settings",
                    order=30, active_prefix="/webhooks/"),
            # One job per delivery; the runner's back-off (30 s doubling, capped at an hour) spaces the attempts.
            JobKind(key=services.JOB_KIND, label="Deliver a webhook", run=services.run_delivery,
                    max_attempts=services.MAX_ATTEMPTS, backoff=30, backoff_cap=3600, retry_on=(RetryableError,)),
            JobKind(key="webhooks.prune", label="Prune old webhook deliveries", run=services.prune, max_attempts=1),
        )
