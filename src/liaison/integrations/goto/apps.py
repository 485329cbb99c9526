from django.apps import AppConfig


class GoToConfig(AppConfig):
    """The GoTo integration: GoToWebinar, GoToTraining, GoToMeeting and GoToAssist."""

    name = "liaison.integrations.goto"
    label = "goto"
    verbose_name = "GoTo"

    def ready(self) -> None:
        from liaison.core.contributions import ContactPanel, JobKind, NavItem, TimelineKind
        from liaison.core.errors import RetryableError
        from liaison.core.registry import registry
        from liaison.integrations.goto import rules, support
        from liaison.integrations.goto.campaign_steps import campaign_steps
        from liaison.integrations.goto.email_validators import email_validators
        from liaison.integrations.goto.forms import form_contributions
        from liaison.integrations.goto.points import point_events
        from liaison.integrations.goto.segments import segment_filters
        from liaison.integrations.goto.spec import GoToSpec
        from liaison.integrations.goto.support_views import contact_panel_context
        from liaison.integrations.goto.tokens import email_tokens
        from liaison.integrations.goto.topics import WEBHOOK_TOPICS

        template = "goto/_timeline_entry.html"
        registry.register(
            GoToSpec(),
            TimelineKind(key="goto.webinar.registered", label="Registered for a webinar", icon="🗓",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.webinar.attended", label="Attended a webinar", icon="🎥",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.webinar.cancelled", label="Webinar registration cancelled", icon="✕",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.training.registered", label="Registered for a training", icon="🗓",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.training.attended", label="Attended a training", icon="🎓",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.training.cancelled", label="Training registration cancelled", icon="✕",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.meeting.attended", label="Attended a meeting", icon="👥",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.assist.session", label="GoToAssist support session", icon="🛟",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.assist.requested", label="Support session requested", icon="🛟",
                         template=template, group="GoTo"),
            TimelineKind(key="goto.assist.link_sent", label="Support session link e-mailed", icon="✉",
                         template=template, group="GoTo"),
            *WEBHOOK_TOPICS,
            NavItem(key="goto.assist", label="Support sessions", url_name="integrations:goto:assist_report",
                    order=60, active_prefix="/integrations/goto/assist/"),
            ContactPanel(key="goto.assist", label="GoToAssist", template="goto/_contact_assist.html",
                         context=contact_panel_context, slot="sidebar", order=60),
            JobKind(key=rules.NOTIFY_JOB, label="GoToAssist rule notification", run=rules.run_notify, queue="mail",
                    max_attempts=5, backoff=60, backoff_cap=1800, retry_on=(RetryableError,)),
            JobKind(key=rules.WAITING_JOB, label="GoToAssist waiting-queue alerts", run=rules.check_waiting,
                    max_attempts=1, concurrency_key=lambda params: rules.WAITING_JOB),
            support.email_token(),
            # Segments, forms, e-mails and points (part 2): keys are stored in users' data.
            *segment_filters(),
            *form_contributions(),
            *email_tokens(),
            *email_validators(),
            *point_events(),
            *campaign_steps(),
        )
