from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "liaison.emails"
    label = "emails"
    verbose_name = "E-mails"

    def ready(self) -> None:
        from liaison.core.contributions import ContactPanel, JobKind, NavItem, PointEvent, TimelineKind
        from liaison.core.registry import registry
        from liaison.emails import broadcasts, services
        from liaison.emails.campaign_steps import campaign_steps
        from liaison.emails.core_tokens import CORE_TOKENS
        from liaison.emails.validators import CORE_VALIDATORS
        from liaison.emails.views import contact_panel_context

        entry = "emails/_timeline_entry.html"
        EMAIL_SUBJECT = {"subject": "email_id", "subject_label": "E-mail", "subject_choices": services.email_choices}
        registry.register(
            *campaign_steps(),
            NavItem(key="emails.emails", label="E-mails", url_name="emails:list", order=40,
                    active_prefix="/emails/"),
            TimelineKind(key="emails.sent", label="E-mail sent", icon="✉", template=entry, group="E-mails"),
            TimelineKind(key="emails.failed", label="E-mail failed", icon="✖", template=entry, group="E-mails"),
            TimelineKind(key="emails.skipped", label="E-mail not sent", icon="⊘", template=entry, group="E-mails"),
            TimelineKind(key="emails.opened", label="E-mail opened", icon="👁", template=entry, group="E-mails"),
            TimelineKind(key="emails.clicked", label="Link clicked", icon="➚", template=entry, group="E-mails"),
            TimelineKind(key="emails.unsubscribed", label="Unsubscribed", icon="⊗", template=entry, group="E-mails"),
            PointEvent(key="emails.sent", label="Receives an e-mail", group="E-mails", **EMAIL_SUBJECT),
            PointEvent(key="emails.opened", label="Opens an e-mail", group="E-mails", **EMAIL_SUBJECT),
            PointEvent(key="emails.clicked", label="Clicks a link in an e-mail", group="E-mails", **EMAIL_SUBJECT),
            JobKind(key="emails.deliver", label="Send e-mails", run=services.run_deliver, queue="mail",
                    max_attempts=5, backoff=60, backoff_cap=1800),
            JobKind(key=broadcasts.JOB_KIND, label="Broadcast a segment e-mail", run=broadcasts.run, queue="mail",
                    max_attempts=5, backoff=60, backoff_cap=1800, concurrency_key=broadcasts.concurrency_key),
            JobKind(key="emails.test", label="Send a test e-mail", run=services.run_test, queue="mail",
                    max_attempts=1),
            ContactPanel(key="emails.sends", label="E-mails", template="emails/_contact_panel.html",
                         context=contact_panel_context, slot="sidebar", order=50),
            ContactPanel(key="emails.send_action", label="Send an e-mail", template="emails/_contact_action.html",
                         slot="actions", order=50, permission="edit"),
            *CORE_TOKENS,
            *CORE_VALIDATORS,
        )
