from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "liaison.segments"
    label = "segments"
    verbose_name = "Segments"

    def ready(self) -> None:
        from liaison.contacts import services as contacts
        from liaison.core.contributions import ContactPanel, JobKind, NavItem, TemplateHook, TimelineKind
        from liaison.core.registry import registry
        from liaison.segments import filters, services, views
        from liaison.segments.actions import segment_actions
        from liaison.segments.audiences import segment_audiences
        from liaison.segments.campaign_steps import campaign_steps

        registry.register(
            *campaign_steps(),
            NavItem(key="segments.segments", label="Segments", url_name="segments:list", order=30,
                    active_prefix="/segments/"),
            *filters.core_filters(),
            *segment_actions(),
            *segment_audiences(),
            TimelineKind(key="segments.added", label="Added to segment", icon="⊕", group="Segments"),
            TimelineKind(key="segments.removed", label="Removed from segment", icon="⊖", group="Segments"),
            JobKind(key="segments.rebuild", label="Segment rebuild", run=services.rebuild, max_attempts=2, backoff=60,
                    concurrency_key=lambda params: f"segments.rebuild:{params.get('segment_id', 'all')}"),
            JobKind(key="segments.reevaluate", label="Segment re-evaluation", run=services.drain, max_attempts=5,
                    backoff=5,
                    concurrency_key=lambda params: None if params.get("continued") else services.REEVALUATE_KEY),
            ContactPanel(key="segments.contact", label="Segments", template="segments/_contact_segments.html",
                         context=views.contact_panel, slot="sidebar", order=10),
            TemplateHook(key="segments.contact_list", label="Segment", slot="contact_list.filters",
                         template="segments/_contact_list_filter.html", context=views.contact_list_filter),
        )
        contacts.contacts_changed.connect(services.queue_changed, dispatch_uid="segments.queue_changed")
        contacts.contact_list_filters.append(services.filter_contact_list)
