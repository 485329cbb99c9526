from django.apps import AppConfig


class GoToConfig(AppConfig):
    """The GoTo integration: GoToWebinar, GoToTraining, GoToMeeting and GoToAssist."""

    name = "liaison.integrations.goto"
    label = "goto"
    verbose_name = "GoTo"

    def ready(self) -> None:
        from liaison.core.contributions import TimelineKind
        from liaison.core.registry import registry
        from liaison.integrations.goto.spec import GoToSpec
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
            *WEBHOOK_TOPICS,
        )
