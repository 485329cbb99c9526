from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "liaison.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from liaison.core.contributions import JobKind, NavItem
        from liaison.core.http import BudgetExhausted
        from liaison.core.registry import registry
        from liaison.integrations.services import prune_api_calls
        from liaison.integrations.sync import run_sync

        registry.register(
            NavItem(key="integrations.integrations", label="Integrations", url_name="integrations:list",
                    order=90, active_prefix="/integrations/"),
            JobKind(key="integrations.sync", label="Integration sync", run=run_sync, queue="sync", max_attempts=4,
                    # ProviderError says itself whether it is retryable (5xx, 429, timeouts).
                    backoff=60, backoff_cap=1800, retry_on=(BudgetExhausted,),
                    concurrency_key=lambda params: f"integrations.sync:{params.get('integration_id')}"),
            JobKind(key="integrations.prune_api_calls", label="Prune the API call log",
                    run=prune_api_calls, max_attempts=1),
        )
