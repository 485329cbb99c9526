from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "liaison.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from liaison.campaigns import executor
        from liaison.campaigns.services import RUN_JOB
        from liaison.core.contributions import JobKind, NavItem, TimelineKind
        from liaison.core.registry import registry

        registry.register(
            JobKind(key=RUN_JOB, label="Run campaigns", run=executor.run_job, max_attempts=3, backoff=30,
                    retry_on=(Exception,), default_cron="* * * * *",
                    concurrency_key=lambda params: f"{RUN_JOB}:{params.get('campaign_id') or 'all'}"),
            executor.CampaignEvents(key="campaigns.decisions", label="Campaign decisions and event sources",
                                    handle=executor.handle_events),
            TimelineKind(key=executor.ENTERED_KIND, label="Entered campaign", icon="⚑", group="Campaigns"),
            TimelineKind(key=executor.STEP_KIND, label="Campaign step", icon="▸", group="Campaigns"),
        )
        from liaison.campaigns.views import contact_panel
        from liaison.core.contributions import ContactPanel

        registry.register(NavItem(key="campaigns.campaigns", label="Campaigns", url_name="campaigns:list", order=50,
                                  active_prefix="/campaigns/"),
                          ContactPanel(key="campaigns.contact", label="Campaigns",
                                       template="campaigns/_contact_panel.html", context=contact_panel,
                                       slot="sidebar", order=30))
