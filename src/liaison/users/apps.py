from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "liaison.users"
    label = "users"
    verbose_name = "Users"

    def ready(self) -> None:
        from liaison.core.contributions import NavItem
        from liaison.core.registry import registry

        registry.register(
            NavItem(key="users.users", label="Users", url_name="users:list", section="settings", order=10,
                    permission="admin", active_prefix="/users/"),
            NavItem(key="users.tokens", label="API tokens", url_name="users:tokens", section="settings", order=20,
                    active_prefix="/account/tokens/"),
        )
