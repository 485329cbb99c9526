from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "liaison.contacts"
    label = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from liaison.contacts.campaign_steps import campaign_steps
        from liaison.contacts.imports import run_import
        from liaison.core.contributions import JobKind, NavItem, TimelineKind
        from liaison.core.registry import registry

        registry.register(
            *campaign_steps(),
            NavItem(key="contacts.contacts", label="Contacts", url_name="contacts:list", order=10,
                    active_prefix="/contacts/"),
            NavItem(key="contacts.companies", label="Companies", url_name="contacts:companies", order=20,
                    active_prefix="/companies/"),
            NavItem(key="contacts.fields", label="Custom fields", url_name="contacts:fields", section="settings",
                    order=30, active_prefix="/fields/"),
            NavItem(key="contacts.imports", label="Imports", url_name="contacts:imports", section="settings",
                    order=40, active_prefix="/imports/"),
            TimelineKind(key="contact.created", label="Contact created", icon="✚", group="Contacts"),
            TimelineKind(key="contact.imported", label="Imported", icon="⇪", group="Contacts"),
            TimelineKind(key="contact.do_not_contact", label="Do not contact", icon="⊘", group="Contacts"),
            TimelineKind(key="contact.note", label="Note", icon="✎", group="Contacts"),
            TimelineKind(key="contact.points", label="Points changed", icon="★", group="Contacts"),
            JobKind(key="contacts.import", label="Contact import", run=run_import, max_attempts=5, backoff=10,
                    concurrency_key=lambda params: f"contacts.import:{params.get('import_id')}"),
        )
