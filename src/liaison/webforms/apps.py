from django.apps import AppConfig
from django.core import checks


class WebformsConfig(AppConfig):
    name = "liaison.webforms"
    label = "webforms"
    verbose_name = "Forms"

    def ready(self) -> None:
        from liaison.core.contributions import JobKind, NavItem, PointEvent, TimelineKind
        from liaison.core.registry import registry
        from liaison.webforms import services
        from liaison.webforms.actions import core_actions, core_validators
        from liaison.webforms.campaign_steps import campaign_steps
        from liaison.webforms.fields import core_field_types

        registry.register(
            *campaign_steps(),
            NavItem(key="webforms.forms", label="Forms", url_name="webforms:list", order=40, active_prefix="/forms/"),
            *core_field_types(),
            *core_actions(),
            *core_validators(),
            TimelineKind(key="webforms.submitted", label="Form submitted", icon="✉", group="Forms"),
            TimelineKind(key="webforms.action", label="Form action", icon="⚙", group="Forms"),
            PointEvent(key="webforms.submitted", label="Submits a form", group="Forms", subject="form_id",
                       subject_label="Form", subject_choices=services.form_choices),
            JobKind(key="webforms.process", label="Form submissions", run=services.process, max_attempts=5,
                    backoff=5,
                    concurrency_key=lambda params: None if params.get("continued") else services.PROCESS_KEY),
            JobKind(key="webforms.actions", label="Form actions", run=services.run_actions, max_attempts=5,
                    backoff=30, concurrency_key=lambda params: f"webforms.actions:{params.get('submission_id')}"),
        )
        checks.register(check_rate_limit)


def check_rate_limit(app_configs, **kwargs):
    from django.conf import settings

    from liaison.core.ratelimit import parse_limits

    try:
        parse_limits(settings.FORMS_RATE_LIMIT)
    except ValueError as exc:
        return [checks.Error(f"LIAISON_FORM_RATE_LIMIT: {exc}.", id="liaison.E101")]
    return []
