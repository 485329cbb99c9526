"""Campaign steps: the actions, conditions and decisions campaigns are built from.

The campaigns app stores a campaign as a tree of steps and runs it; what a step *is* comes
from the registry, so apps and integrations add theirs (send an e-mail, add to a segment,
register to a webinar, "attended a webinar", "opens an e-mail") without the campaigns app
knowing them. Point triggers (the points app) run the same actions.

Three kinds (``step_kind``):

* **action** — does something for each contact reaching it: ``run(targets, config)``
  returns one ``ActionResult`` per target, in order. Raise ``RetryableError`` when the
  whole batch met a transient failure (it is tried again with back-off); return
  ``ActionResult(False, "the provider's words")`` for a final failure of one contact, or
  ``ActionResult(False, "...", retry=True)`` for a transient failure of one contact. A
  result's ``data["context"]`` (a dict) is merged into what the next steps see (e.g. the
  webinar a contact was just registered to, so a following e-mail's ``{webinar_link}``
  uses it).
* **condition** — splits contacts into yes / no at once: ``to_q(config, campaign_id)``
  returns a ``Q`` or ``Exists`` on ``contacts.Contact`` (the executor evaluates a whole
  batch in one query; nothing is decided in Python).
* **decision** — waits for something the contact does (an event from ``events``, keys of
  ``PointEvent``s announced as ``ContactEvent``), until the step's timeout: a matching
  event takes the *yes* branch, the timeout the *no* branch. ``matches(config, event)``
  says whether an event counts for this step. ``can_start=True`` lets the same
  decision also be a campaign's entry source ("when a contact submits form X").

Every (contact's enrollment, step) runs at most once: the campaigns app guarantees it with
a unique constraint, and gives each target a ``dedupe_key`` that senders can use
(``emails.services.send_email(..., dedupe_key=target.dedupe_key)``) so that even a re-run
after a crash sends nothing twice. Set ``idempotent=True`` when running an action twice for
the same target does no harm (it may then be re-run after a crash instead of failing).
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from liaison.core.contributions.base import Contribution
from liaison.core.contributions.events import ContactEvent
from liaison.core.contributions.forms import ActionResult, NoConfig

if TYPE_CHECKING:
    from django.db.models import Exists, Q

# The apps' models, named for readability only: core never imports an app.
Contact = Any

StepKind = Literal["action", "condition", "decision"]
STEP_KINDS: tuple[str, ...] = ("action", "condition", "decision")


@dataclass
class StepTarget:
    """One contact reaching an action.

    - ``contact``: a ``contacts.Contact``;
    - ``context``: what earlier steps and the entry event said about this contact's run
      (JSON), e.g. ``{"goto": {"product": "webinar", "event": "812…"}}``;
    - ``dedupe_key``: unique for this contact at this step of this enrollment
      (``campaign:3:step:12:enrollment:55``) or for this trigger
      (``points:trigger:4:contact:9``): pass it to services that de-duplicate;
    - ``source``: who runs it, ``"campaign"`` or ``"points"`` (stored as the origin of what
      the action creates: a registration's source, a static segment member's origin);
    - ``campaign_id`` / ``step_id``: set when a campaign runs it.
    """

    contact: Contact
    dedupe_key: str
    context: dict[str, Any] = field(default_factory=dict)
    source: str = "campaign"
    campaign_id: int | None = None
    step_id: int | None = None


@dataclass(eq=False, repr=False)
class CampaignStep(Contribution, ABC):
    """An action, condition or decision users can put in a campaign.

    Subclass it and implement the method of its kind::

        class RegisterToWebinar(CampaignStep):
            def run(self, targets, config):
                return [register(t.contact, config.events, dedupe=t.dedupe_key) for t in targets]

        class AttendedWebinar(CampaignStep):
            def to_q(self, config, campaign_id=None):
                return Exists(Attendance.objects.filter(contact=OuterRef("pk"), event__key__in=config.events))

        class OpensEmail(CampaignStep):
            def matches(self, config, event):
                return not config.emails or event.subject_value("email_id") in config.emails

        registry.register(
            RegisterToWebinar(key="goto.webinar.register", label="Register to webinar", step_kind="action",
                              group="GoToWebinar", config_schema=RegisterConfig, idempotent=True),
            AttendedWebinar(key="goto.webinar.attended", label="Attended webinar", step_kind="condition",
                            group="GoToWebinar", config_schema=EventsConfig),
            OpensEmail(key="emails.opens", label="Opens e-mail", step_kind="decision", group="E-mails",
                       events=("emails.opened",), config_schema=EmailsConfig),
        )

    - ``config_schema``: a pydantic model; the step stores ``model_dump(mode="json")`` and
      the methods get the validated model. ``config_choices(name)`` may return
      ``[(value, label)]`` to offer choices for one config field (e-mails, segments,
      webinars); a ``list[...]`` field is then a multiple choice.
    - ``check(config)`` returns sentences when a config cannot work (an e-mail that is not
      a template e-mail, an unknown webinar): the campaign is not saved.
    - ``summary(config)``: one line for the builder ("Send “Welcome”").
    - ``unavailable_reason()``: a sentence while the step cannot run (its integration is
      switched off); campaigns keep the contacts waiting at it and say why.
    - ``batch_size``: how many targets ``run`` gets at once (actions).
    """

    kind: ClassVar[str] = "campaign_step"
    key: str
    label: str
    step_kind: StepKind = "action"
    config_schema: type[BaseModel] = NoConfig
    group: str = "Liaison"
    description: str = ""
    idempotent: bool = False
    batch_size: int = 100
    events: tuple[str, ...] = ()
    can_start: bool = False

    # -- actions ---------------------------------------------------------------------------

    def run(self, targets: list[StepTarget], config: BaseModel) -> list[ActionResult]:
        raise TypeError(f"{self.key} is a {self.step_kind}, not an action")

    # -- conditions ------------------------------------------------------------------------

    def to_q(self, config: BaseModel, campaign_id: int | None = None) -> Q | Exists:
        raise TypeError(f"{self.key} is a {self.step_kind}, not a condition")

    # -- decisions -------------------------------------------------------------------------

    def matches(self, config: BaseModel, event: ContactEvent) -> bool:
        """Whether this event, for its contacts, takes the *yes* branch (default: any event of ``events``)."""
        return event.key in self.events

    def context_from(self, config: BaseModel, event: ContactEvent) -> Mapping[str, Any]:
        """What a matching event adds to the context the next steps see (e.g. which webinar)."""
        return {}

    # -- every kind ------------------------------------------------------------------------

    def parse(self, raw: Mapping[str, Any] | None) -> BaseModel:
        """The validated config (raises pydantic's ValidationError)."""
        return self.config_schema.model_validate(dict(raw or {}))

    def check(self, config: BaseModel) -> list[str]:
        return []

    def config_choices(self, name: str) -> list[tuple[str, str]] | None:
        return None

    def summary(self, config: BaseModel) -> str:
        return self.label

    def unavailable_reason(self) -> str | None:
        return None

    def validate(self) -> None:
        super().validate()
        if self.step_kind not in STEP_KINDS:
            raise ValueError(f"{self.key}: step_kind must be one of {', '.join(STEP_KINDS)}")
        if not (isinstance(self.config_schema, type) and issubclass(self.config_schema, BaseModel)):
            raise ValueError(f"{self.key}: config_schema must be a pydantic model")
        method = {"action": "run", "condition": "to_q"}.get(self.step_kind)
        if method and getattr(type(self), method) is getattr(CampaignStep, method):
            raise TypeError(f"{self.key}: a {self.step_kind} must implement {method}()")
        if self.step_kind == "decision" and not self.events:
            raise ValueError(f"{self.key}: a decision names the events it waits for")
        if self.step_kind != "decision" and (self.events or self.can_start):
            raise ValueError(f"{self.key}: only decisions wait for events or start campaigns")
        if self.batch_size < 1:
            raise ValueError(f"{self.key}: batch_size must be at least 1")
