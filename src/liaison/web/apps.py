from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "liaison.web"
    label = "web"
    verbose_name = "Web interface"

    def ready(self) -> None:
        from liaison.core.contributions import NavItem
        from liaison.core.registry import registry

        registry.register(
            NavItem(key="web.dashboard", label="Dashboard", url_name="dashboard", order=0, active_prefix="/$"),
        )
