"""GoTo in campaigns: conditions on the stored facts, decisions on the facts GoTo announces,
and actions that register people or e-mail a start link.

* **Conditions** (keys ``goto.<product>.<fact>``, the segment filters' keys): registered for,
  attended, did not attend, attended at least N minutes — for the chosen events or any. Each
  ``to_q`` is the segment filter's own correlated ``EXISTS`` (``segments.GoToFilter``), so a
  campaign and a segment never disagree on who "attended".
* **Decisions** (``goto.<product>.registers`` / ``.attends``): wait for the point events the
  facts announce (``points.POINT_EVENTS``), for the chosen events or any; the event goes to the
  context (``{"goto": {"product", "event"}}``) so a following e-mail's ``{webinar_link}`` uses it.
  They can also start a campaign.
* **Decision** ``goto.assist.leaves``: waits for a support session that ends (``goto.assist.left``),
  rated at most N when N is set.
* **Actions**: ``goto.webinar.register`` / ``goto.training.register`` (fixed events, through
  ``services.register_contact`` as the form action; someone already registered counts as
  registered), ``goto.meeting.start_link`` / ``goto.training.start_link``
  (``services.send_start_link``). GoTo's refusals fail the contact with GoTo's words; its
  transient failures are retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import ActionResult, CampaignStep, SegmentFilter
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.http import ProviderError
from liaison.core.registry import registry
from liaison.integrations.goto import forms, points, queries, services, support
from liaison.integrations.goto.segments import ANY, FACTS, NOUNS, SPECIAL, assist_choices
from liaison.integrations.goto.spec import PRODUCT_LABELS

MAX_CHOICES = 200


class EventsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[str] = Field(default_factory=list, title="Events", description="None chosen: any.")


class MinutesConfig(EventsConfig):
    minutes: int = Field(..., ge=1, le=100_000, title="At least (minutes)")


class RegisterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[str] = Field(..., min_length=1, title="Events", description="Register to each of these.")


class RatingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_rating: int | None = Field(None, ge=1, le=5, title="Rated at most",
                                   description="1 to 5. Empty: any session that ends, rated or not.")


class StartLinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(..., min_length=1, max_length=40, title="Event")
    email_id: int = Field(..., title="Send this e-mail template",
                          description="A template e-mail containing {meeting_button} / {training_button}.")


def _event_choices(product: str) -> list[tuple[str, str]]:
    if product == "assist":
        return assist_choices("", 0, MAX_CHOICES)[0]
    return queries.event_choices(product, limit=MAX_CHOICES)[0]


def _names(product: str, keys: list[str]) -> str:
    flt = registry.get(SegmentFilter, f"goto.{product}.attended")
    labels = flt.choice_labels(keys)
    return " or ".join(f"“{labels.get(k, k)}”" for k in keys)


def _unknown(product: str, keys: list[str], label: str) -> list[str]:
    flt = registry.get(SegmentFilter, f"goto.{product}.attended")
    known = flt.choice_labels(keys)
    return [f"{label}: there is no {NOUNS[product]} {k} (is GoTo synchronised?)." for k in keys if k not in known]


# -- conditions ----------------------------------------------------------------------------------------

@dataclass(eq=False, repr=False)
class FactCondition(CampaignStep):
    """A segment filter's fact as a yes / no branch (the ``GoToFilter`` of the same key)."""

    product: str = "webinar"
    fact: str = "registered"

    @property
    def filter(self):
        return registry.get(SegmentFilter, f"goto.{self.product}.{self.fact}")

    def to_q(self, config: EventsConfig, campaign_id=None):
        value: dict[str, Any] = {"values": list(config.events) or [ANY]}
        if self.fact == "attended_minutes":
            value["at_least"] = config.minutes
        return self.filter.to_q("ever", value)

    def config_choices(self, name: str):
        return _event_choices(self.product) if name == "events" else None

    def check(self, config: EventsConfig) -> list[str]:
        return _unknown(self.product, list(config.events), self.label)

    def summary(self, config: EventsConfig) -> str:
        which = _names(self.product, list(config.events)) if config.events else f"any {NOUNS[self.product]}"
        minutes = f" for at least {config.minutes} minutes" if self.fact == "attended_minutes" else ""
        return f"{self.label}{minutes}: {which}"

    def unavailable_reason(self):
        return self.filter.unavailable_reason()


# -- decisions -----------------------------------------------------------------------------------------

@dataclass(eq=False, repr=False)
class FactDecision(CampaignStep):
    product: str = "webinar"

    def matches(self, config: EventsConfig, event) -> bool:
        return event.key in self.events and (
            not config.events or event.subject_value("goto_event_key") in config.events)

    def context_from(self, config: EventsConfig, event):
        return {services.CONTEXT: {"product": event.data.get("product") or self.product,
                                   "event": event.subject_value("goto_event_key") or ""}}

    def config_choices(self, name: str):
        return points.event_choices(self.product)() if name == "events" else None

    def check(self, config: EventsConfig) -> list[str]:
        return _unknown(self.product, list(config.events), self.label)

    def summary(self, config: EventsConfig) -> str:
        return f"{self.label}: {_names(self.product, list(config.events)) if config.events else 'any'}"


@dataclass(eq=False, repr=False)
class LeftSessionDecision(CampaignStep):
    """Waits until a support session of the contact ends (``goto.assist.left``), rated at most N
    when N is set. A rating that arrives after the session ended is announced then, so a
    contact waiting here still takes "yes" once the customer rates the session."""

    def matches(self, config: RatingConfig, event) -> bool:
        if event.key not in self.events:
            return False
        rating = event.data.get("rating")
        return config.max_rating is None or (rating is not None and int(rating) <= config.max_rating)

    def context_from(self, config: RatingConfig, event):
        return {services.CONTEXT: {"product": "assist", "event": event.subject_value("goto_event_key") or ""}}

    def summary(self, config: RatingConfig) -> str:
        if config.max_rating is None:
            return "Leaves a support session"
        return f"Leaves a support session rated at most {config.max_rating} of 5"

    def unavailable_reason(self):
        return None if support.assist_accounts() else "No GoTo account offers GoToAssist: connect one and switch it on."


# -- actions -------------------------------------------------------------------------------------------

def _per_target(product: str, keys: list[str], work) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """``forms.for_each_event`` for one contact; a transient failure is this contact's retry."""
    try:
        done, problems = forms.for_each_event(product, keys, work)
    except RetryableError as exc:
        return [], [], str(exc)
    return done, problems, None


@dataclass(eq=False, repr=False)
class RegisterStep(CampaignStep):
    product: str = "webinar"

    def run(self, targets, config: RegisterConfig) -> list[ActionResult]:
        results = []
        for target in targets:
            contact = target.contact

            def register(event, contact=contact, source=target.source):  # "campaign" or "points"
                outcome = services.register_contact(event, contact, source=source)
                return {"event": event.provider_key, "title": event.title, "join_url": outcome.join_url,
                        "created": outcome.created, "context": services.event_context(event)}

            done, problems, retry = _per_target(self.product, list(config.events), register)
            if retry is not None:
                results.append(ActionResult(False, retry, retry=True))
                continue
            sentences = [(f"Registered {contact.email} for “{d['title']}”." if d["created"] else
                          f"{contact.email} was already registered for “{d['title']}”; the existing registration "
                          f"is kept.") for d in done]
            data: dict[str, Any] = {"registrations": [{k: v for k, v in d.items() if k != "context"} for d in done]}
            if done:
                data["context"] = done[0]["context"]
            results.append(ActionResult(bool(done) and not problems, " ".join(sentences + problems), data))
        return results

    def config_choices(self, name: str):
        if name != "events":
            return None
        items, _ = queries.event_choices(self.product, events=queries.upcoming_events(
            self.product, queries.usable_accounts(self.product)), limit=MAX_CHOICES, soonest_first=True)
        return items

    def check(self, config: RegisterConfig) -> list[str]:
        return _unknown(self.product, list(config.events), self.label)

    def summary(self, config: RegisterConfig) -> str:
        return f"{self.label}: {_names(self.product, list(config.events))}"

    def unavailable_reason(self):
        if queries.usable_accounts(self.product):
            return None
        return f"No published GoTo account has {PRODUCT_LABELS[self.product]} switched on."


@dataclass(eq=False, repr=False)
class StartLinkStep(CampaignStep):
    product: str = "meeting"

    def run(self, targets, config: StartLinkConfig) -> list[ActionResult]:
        from liaison.emails.models import Email

        email = Email.objects.filter(pk=config.email_id).first()
        if email is None:
            return [ActionResult(False, f"The e-mail #{config.email_id} no longer exists: no start link was sent.")
                    for _ in targets]
        results = []
        for target in targets:
            def send(event, target=target):
                sent = services.send_start_link(event, target.contact, email, dedupe_key=target.dedupe_key)
                return {"event": event.provider_key, "title": event.title, "send_id": sent.pk,
                        "context": services.event_context(event)}

            done, problems, retry = _per_target(self.product, [config.event], send)
            if retry is not None:
                results.append(ActionResult(False, retry, retry=True))
            elif problems:
                results.append(ActionResult(False, " ".join(problems)))
            else:
                d = done[0]
                results.append(ActionResult(True, f"Start link of “{d['title']}” e-mailed to {target.contact.email} "
                                                  f"with “{email.name}”.",
                                            {"send_id": d["send_id"], "context": d["context"]}))
        return results

    def config_choices(self, name: str):
        if name == "event":
            return _event_choices(self.product)
        if name == "email_id":
            return forms.template_emails()
        return None

    def check(self, config: StartLinkConfig) -> list[str]:
        return (_unknown(self.product, [config.event], self.label)
                + forms._check_email(config.email_id, (services.BUTTON_TOKENS[self.product],), self.label))

    def summary(self, config: StartLinkConfig) -> str:
        return f"{self.label}: {_names(self.product, [config.event])}"


class AssistConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email_id: int = Field(..., title="Send this e-mail template",
                          description="A template e-mail containing {assist_button} or {support_session_link}.")
    account: int | None = Field(None, title="GoTo account",
                                description="The GoToAssist account (blank: the only one with GoToAssist on).")


@dataclass(eq=False, repr=False)
class AssistRequestStep(CampaignStep):
    """Create a support session for the contact and e-mail its join link (``support``'s workflow,
    as the form action ``goto.assist.request``). Not idempotent: a re-run would open a second session."""

    def run(self, targets, config: AssistConfig) -> list[ActionResult]:
        from liaison.emails.models import Email

        email = Email.objects.filter(pk=config.email_id).first()
        try:
            if email is None:
                raise LiaisonError(f"The e-mail #{config.email_id} no longer exists: no session was requested.")
            integration = support.assist_account(config.account)
        except (ValidationFailed, LiaisonError) as exc:
            return [ActionResult(False, forms._words(exc)) for _ in targets]
        results = []
        for target in targets:
            contact = target.contact
            try:
                session = support.start_session(integration, contact)
                support.send_join_link(session, email)
            except ProviderError as exc:
                results.append(ActionResult(False, str(exc), retry=exc.retryable))
                continue
            except (ValidationFailed, LiaisonError) as exc:
                results.append(ActionResult(False, forms._words(exc)))
                continue
            results.append(ActionResult(True, f"Support session {session.session_id} created; its join link was "
                                              f"e-mailed to {contact.email} with “{email.name}”.",
                                        {"session_id": session.session_id, "join_url": session.customer_join_url}))
        return results

    def config_choices(self, name: str):
        if name == "account":
            return forms.account_choices("assist")
        if name == "email_id":
            return forms.template_emails()
        return None

    def check(self, config: AssistConfig) -> list[str]:
        return forms._check_email(config.email_id, tuple(reversed(support.LINK_TOKENS)), self.label)

    def unavailable_reason(self):
        return None if support.assist_accounts() else "No GoTo account offers GoToAssist: connect one and switch it on."


# -- the catalogue ---------------------------------------------------------------------------------------

def campaign_steps() -> list[CampaignStep]:
    found: list[CampaignStep] = []
    for fact, (label, products, description) in FACTS.items():
        for product in products:
            noun = NOUNS[product]
            words = {"noun": noun, "nouns": noun + "s", "a": "an" if noun[0] in "aeiou" else "a"}
            own_label, own_description = SPECIAL.get((product, fact), (label, description))
            found.append(FactCondition(
                key=f"goto.{product}.{fact}", label=own_label.format(**words), step_kind="condition",
                group=PRODUCT_LABELS[product], description=own_description.format(**words),
                config_schema=MinutesConfig if fact == "attended_minutes" else EventsConfig,
                product=product, fact=fact))
    for event_key, label in points.POINT_EVENTS:
        product, verb = event_key.split(".")[1:]
        if product == "assist":
            continue  # support sessions: the rating decision below
        found.append(FactDecision(
            key=f"goto.{product}.{'registers' if verb == 'registered' else 'attends'}", label=label,
            step_kind="decision", group=PRODUCT_LABELS[product], events=(event_key,), can_start=True,
            config_schema=EventsConfig, product=product,
            description=f"Waits until the contact {label[0].lower()}{label[1:]} (the chosen ones, or any)."))
    found.append(LeftSessionDecision(
        key="goto.assist.leaves", label="Leaves a support session rated at most N", step_kind="decision",
        group=PRODUCT_LABELS["assist"], events=("goto.assist.left",), can_start=True, config_schema=RatingConfig,
        description="Waits until a GoToAssist support session of the contact ends, rated at most N of 5 by the "
                    "customer (empty: any ending). A rating given after the session ended counts when it arrives."))
    for product in ("webinar", "training"):
        found.append(RegisterStep(
            key=f"goto.{product}.register", label=f"Register to {product}", group=PRODUCT_LABELS[product],
            config_schema=RegisterConfig, idempotent=True, batch_size=20, product=product,
            description=f"Registers the contact on {PRODUCT_LABELS[product]} (already registered: the existing "
                        f"registration and its join link are kept)."))
    for product in ("meeting", "training"):
        found.append(StartLinkStep(
            key=f"goto.{product}.start_link", label=f"Send {PRODUCT_LABELS[product]} start link",
            group=PRODUCT_LABELS[product], config_schema=StartLinkConfig, idempotent=True, batch_size=20,
            product=product,
            description=f"E-mails the organizer's start link ({{{services.BUTTON_TOKENS[product]}}}): whoever gets it "
                        f"can start the {product}."))
    found.append(AssistRequestStep(
        key="goto.assist.request", label="Request GoToAssist session (send link)", group="GoToAssist",
        config_schema=AssistConfig, batch_size=20,
        description="Creates a GoToAssist support session for the contact and e-mails its join link."))
    return found
