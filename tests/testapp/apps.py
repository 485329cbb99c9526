from django.apps import AppConfig


class TestappConfig(AppConfig):
    """Test-only contributions: the Example CRM integration, its timeline kind, e-mail token and
    validator, and a segment filter, form field type, form action, form validator and campaign
    action of its own."""

    name = "tests.testapp"
    label = "testapp"

    def ready(self) -> None:
        from liaison.core.contributions import TimelineKind
        from liaison.core.registry import registry
        from tests.testapp.campaign_steps import example_steps
        from tests.testapp.contributions import example_contributions
        from tests.testapp.emails import EXAMPLE_TOKEN, EXAMPLE_VALIDATOR
        from tests.testapp.spec import ExampleBasicSpec, ExampleSpec
        from tests.testapp.steps import push_steps

        registry.register(
            ExampleSpec(),
            ExampleBasicSpec(),
            TimelineKind(key="example.synced", label="Synced from Example CRM", icon="⇄", group="Example"),
            EXAMPLE_TOKEN,
            EXAMPLE_VALIDATOR,
            *example_contributions(),
            *example_steps(),
            *push_steps(),
        )
