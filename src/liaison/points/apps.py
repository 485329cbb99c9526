from django.apps import AppConfig


class PointsConfig(AppConfig):
    name = "liaison.points"
    label = "points"
    verbose_name = "Points"

    def ready(self) -> None:
        from liaison.contacts import services as contacts
        from liaison.core.contributions import ContactPanel, EventConsumer, JobKind, NavItem, TimelineKind
        from liaison.core.errors import RetryableError
        from liaison.core.registry import registry
        from liaison.points import services, views

        registry.register(
            NavItem(key="points.points", label="Points", url_name="points:rules", order=60, active_prefix="/points/"),
            # Awards reach the timeline through contacts.adjust_points ("contact.points", the
            # rule's name as the reason); a trigger's outcome has an entry of its own.
            TimelineKind(key=services.TIMELINE_KIND, label="Point trigger", icon="★", group="Points"),
            EventConsumer(key="points.rules", label="Point rules", handle=services.handle_events),
            JobKind(key=services.FIRE_JOB, label="Point trigger actions", run=services.run_fire, max_attempts=5,
                    backoff=60, backoff_cap=3600, retry_on=(RetryableError,)),
            JobKind(key=services.EVALUATE_JOB, label="Evaluate point triggers", run=services.run_evaluate,
                    max_attempts=3, backoff=30,
                    concurrency_key=lambda params: f"points.evaluate:{params.get('trigger_id') or 'all'}"),
            ContactPanel(key="points.contact", label="Points", template="points/_contact_points.html",
                         context=views.contact_panel, slot="sidebar", order=20),
        )
        contacts.contacts_changed.connect(services.on_contacts_changed, dispatch_uid="points.on_contacts_changed")
