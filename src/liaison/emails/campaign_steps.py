"""The e-mails app's campaign steps: send a template e-mail, "opened e-mail", "opens" and "clicks"."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import ActionResult, CampaignStep, ContactEvent
from liaison.emails import services
from liaison.emails.models import Email, Send


class SendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: int = Field(..., title="E-mail", description="A published template e-mail.")


class EmailsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emails: list[int] = Field(default_factory=list, title="E-mails", description="Leave empty for any e-mail.")


def _names(ids) -> str:
    names = dict(Email.objects.filter(pk__in=list(ids)).values_list("pk", "name"))
    return ", ".join(f"“{names.get(i, f'#{i} (deleted)')}”" for i in ids)


def template_choices() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in
            Email.objects.filter(kind=Email.Kind.TEMPLATE).order_by("name", "pk").values_list("pk", "name")]


@dataclass(eq=False, repr=False)
class SendEmail(CampaignStep):
    """Queues and delivers the e-mail for the batch; a re-run after a crash sends nothing twice
    (each send's key is the target's ``dedupe_key``)."""

    def run(self, targets, config: SendConfig):
        email = Email.objects.filter(pk=config.email).first()
        problem = self._problem(email)
        if problem:
            return [ActionResult(False, problem) for _ in targets]
        # Two enrollments of one contact in one batch: the first one's send serves the batch.
        keys: dict[int, str] = {}
        contexts: dict[int, dict] = {}
        for target in targets:
            keys.setdefault(target.contact.pk, target.dedupe_key)
            contexts.setdefault(target.contact.pk, dict(target.context))
        queued = services.queue_sends(email, list(keys), keys=keys, contexts=contexts)
        if not services.can_deliver_now():
            # Inside a caller's transaction (a points trigger): the mail job sends after the commit.
            services.deliver_later(email, queued.queued_ids)
            return [ActionResult(True, f"Queued “{email.name}”.", data={"email_id": email.pk}) for _ in targets]
        services.deliver(queued.queued_ids, owner="campaign")
        outcome = {row[0]: row[1:] for row in Send.objects.filter(dedupe_key__in=list(keys.values()))
                   .values_list("contact_id", "status", "reason")}
        return [self._result(email, *outcome.get(t.contact.pk, (None, ""))) for t in targets]

    @staticmethod
    def _result(email: Email, status: str | None, reason: str) -> ActionResult:
        if status == Send.Status.SENT:
            return ActionResult(True, f"Sent “{email.name}”.", data={"email_id": email.pk})
        if status in (Send.Status.QUEUED, Send.Status.SENDING):
            return ActionResult(False, reason or "The mail server did not take the message yet.", retry=True)
        if status == Send.Status.SKIPPED:
            return ActionResult(False, f"Not sent: {reason or 'skipped'}.")
        if status == Send.Status.FAILED:
            return ActionResult(False, f"Not sent: {reason or 'the mail server refused it'}.")
        return ActionResult(False, "The contact has no e-mail address to send to.")

    @staticmethod
    def _problem(email: Email | None) -> str | None:
        if email is None:
            return "The e-mail was deleted."
        if email.kind != Email.Kind.TEMPLATE:
            return f"“{email.name}” is a segment e-mail: a campaign sends template e-mails."
        if not email.published:
            return f"“{email.name}” is not published."
        return None

    def check(self, config: SendConfig):
        problem = self._problem(Email.objects.filter(pk=config.email).first())
        return [problem] if problem else []

    def config_choices(self, name):
        return template_choices() if name == "email" else None

    def summary(self, config: SendConfig):
        return f"Send {_names([config.email])}"


@dataclass(eq=False, repr=False)
class OpenedEmail(CampaignStep):
    def to_q(self, config: EmailsConfig, campaign_id=None):
        sends = Send.objects.filter(contact=OuterRef("pk"), opened_at__isnull=False)
        if config.emails:
            sends = sends.filter(email_id__in=config.emails)
        return Exists(sends)

    def config_choices(self, name):
        return services.email_choices() if name == "emails" else None

    def summary(self, config: EmailsConfig):
        return f"Opened {_names(config.emails)}" if config.emails else "Opened any e-mail"


@dataclass(eq=False, repr=False)
class EmailEvent(CampaignStep):
    """Waits for an open or a click of the chosen e-mails (any when none is chosen)."""

    verb: str = ""

    def matches(self, config: EmailsConfig, event: ContactEvent) -> bool:
        return event.key in self.events and (not config.emails or
                                             event.subject_value("email_id") in {str(e) for e in config.emails})

    def context_from(self, config: EmailsConfig, event: ContactEvent):
        return {"email_id": event.data.get("email_id")}

    def config_choices(self, name):
        return services.email_choices() if name == "emails" else None

    def summary(self, config: EmailsConfig):
        return f"{self.verb} {_names(config.emails)}" if config.emails else f"{self.verb} any e-mail"


def campaign_steps() -> list[CampaignStep]:
    group = "E-mails"
    return [
        SendEmail(key="emails.send", label="Send e-mail", group=group, config_schema=SendConfig, batch_size=200,
                  description="Sends a template e-mail; a contact marked do not contact is skipped, with why."),
        OpenedEmail(key="emails.opened", label="Opened e-mail", step_kind="condition", group=group,
                    config_schema=EmailsConfig, description="Yes when the contact has opened one of these e-mails."),
        EmailEvent(key="emails.opens", label="Opens e-mail", step_kind="decision", group=group,
                   events=("emails.opened",), config_schema=EmailsConfig, verb="Opens"),
        EmailEvent(key="emails.clicks", label="Clicks a link", step_kind="decision", group=group,
                   events=("emails.clicked",), config_schema=EmailsConfig, verb="Clicks a link in"),
    ]
