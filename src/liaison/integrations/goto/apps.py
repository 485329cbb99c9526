from django.apps import AppConfig


class GoToConfig(AppConfig):
    """The GoTo integration: GoToWebinar, GoToTraining, GoToMeeting and GoToAssist."""

    name = "liaison.integrations.goto"
    label = "goto"
    verbose_name = "GoTo"

    def ready(self) -> None:
        from liaison.core.contributions import TimelineKind
        from liaison.core.registry import registry
        from liaison.integrations.goto.forms import form_contributions
        from liaison.integrations.goto.points import point_events
        from liaison.integrations.goto.segments import segment_filters
        from liaison.integrations.goto.spec import GoToSpec
        from liaison.integrations.goto.tokens import email_tokens

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
            # Segments, forms, e-mails and points (part 2): keys are stored in users' data.
            *segment_filters(),
            *form_contributions(),
            *email_tokens(),
            *point_events(),
        )
