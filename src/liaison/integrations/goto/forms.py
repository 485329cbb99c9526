"""GoTo in forms: "upcoming events" fields, the register / start-link / support-session actions,
and the save-time checks Mautic made (with its messages, fitted to Liaison's builder).

Field types ``goto.webinar.upcoming``, ``goto.training.upcoming``, ``goto.meeting.upcoming``: a
select (one or several choices) of the events people can still register for, read from the
local events table that the sync keeps fresh, so drawing a form never calls GoTo. The value is
the event's GoTo key (webinarKey, trainingKey, meetingId). A choice that stopped being upcoming
since the page was drawn is refused with "This webinar is no longer available".

Actions (all call GoTo, so they run in a job, retried on GoTo's transient failures):

* ``goto.webinar.register``, ``goto.training.register``: register the person to the event
  chosen in the form ("visitor selects") or fixed in the action. E-mail, first and last name
  come from the mapped form fields (blank mapping: the field that fills that contact field);
  webinars can also send other registrant fields and answers to custom questions
  (``extra_fields``). Someone already registered counts as registered (its join link is
  fetched); GoTo's refusals reach the submission and the timeline in words.
* ``goto.meeting.start_link``, ``goto.training.start_link``: e-mail the organizer's start link
  with a template e-mail containing ``{meeting_button}`` / ``{training_button}``.
* ``goto.assist.request``: create a GoToAssist support session for the person and e-mail its
  join link with a template e-mail containing ``{assist_button}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from liaison.contacts import services as contacts
from liaison.contacts.models import Contact, normalize_email
from liaison.core.contributions import ActionResult, FormAction, FormFieldType, FormSpec, FormValidator
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.http import ProviderError
from liaison.integrations.goto import queries, services, support
from liaison.integrations.goto.models import Event
from liaison.integrations.goto.spec import PRODUCT_LABELS
from liaison.integrations.models import Integration

NOUNS = {"webinar": "webinar", "training": "training", "meeting": "meeting"}
FIELD_LABELS = {"webinar": "Upcoming webinars", "training": "Upcoming trainings", "meeting": "Upcoming meetings"}
MAX_CHOICES = 200
VISITOR_SELECTS = "form"
CONTACT_LABELS = {"email": "E-mail", "first_name": "First name", "last_name": "Last name"}
# GoToWebinar's registrant fields besides the names and the e-mail (its registration form).
REGISTRANT_FIELDS = ("source", "address", "city", "state", "zipCode", "country", "phone", "organization", "jobTitle",
                     "questionsAndComments", "industry", "numberOfEmployees", "purchasingTimeFrame",
                     "purchasingRole")
# Form fields that carry no person data (not offered in the mappings).
NOT_MAPPABLE = {f"goto.{p}.upcoming" for p in NOUNS}


def field_type_key(product: str) -> str:
    return f"goto.{product}.upcoming"


# -- the "upcoming events" field ---------------------------------------------------------------------

class UpcomingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    multiple: bool = Field(False, title="Several choices", description="Visitors may choose more than one.")
    account: int | None = Field(None, title="GoTo account",
                                description="Only the events of this account (blank: every account).")


@dataclass(eq=False, repr=False)
class UpcomingEvents(FormFieldType):
    product: str = "webinar"

    def _events(self, field):
        accounts = queries.usable_accounts(self.product)
        account = (field.config or {}).get("account")
        if account:
            accounts = [a for a in accounts if a == account]
        return queries.upcoming_events(self.product, accounts)

    def choices(self, field) -> list[tuple[str, str]]:
        """One query on the local table: never a call to GoTo while a page is drawn."""
        items, _ = queries.event_choices(self.product, events=self._events(field), limit=MAX_CHOICES,
                                         soonest_first=True, with_zone=True)
        return items

    def clean(self, value: Any, field) -> Any:
        values = value if isinstance(value, list) else [value]
        keys = [str(v) for v in values]
        offered = set(self._events(field).filter(provider_key__in=keys).values_list("provider_key", flat=True))
        gone = [k for k in keys if k not in offered]
        if gone:
            title = next(iter(Event.objects.filter(product=self.product, provider_key=gone[0])
                              .values_list("title", flat=True)), "")
            raise ValidationError(f"This {NOUNS[self.product]} is no longer available"
                                  + (f": “{title}”." if title else "."))
        return value

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        if name == "account":
            return account_choices(self.product)
        return None


def account_choices(product: str) -> list[tuple[str, str]]:
    ids = queries.usable_accounts(product)
    return [(str(pk), name) for pk, name in Integration.objects.filter(pk__in=ids).order_by("name")
            .values_list("pk", "name")]


# -- actions: shared pieces ---------------------------------------------------------------------------------

def _words(exc: Exception) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(m for messages in exc.errors.values() for m in messages)
    return str(exc)


def _mapped(form: FormSpec, config: BaseModel, contact_field: str):
    """The form field an action reads ``contact_field`` from (the mapping, else the field that
    fills that contact field)."""
    key = getattr(config, f"{contact_field}_field", "")
    return form.field(key) if key else form.field_for(contact_field)


def _mappable(form: FormSpec) -> list[tuple[str, str]]:
    return [(f.key, f"{f.label} ({f.key})") for f in form.fields if f.type not in NOT_MAPPABLE]


def _answer(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None or value is False else str(value).strip()


def _form_spec(submission) -> FormSpec:
    from liaison.webforms.services import spec_of

    return spec_of(submission.form)


def _person(submission, form: FormSpec, config: BaseModel, contact: Contact,
            names: bool = True) -> tuple[Contact, str, str, str]:
    """Who the action is for, from the mapped fields (really used: Mautic ignored them). The
    submitter's contact unless the mapped e-mail is another address: then that person's contact."""
    data = submission.data or {}
    values = {}
    for contact_field in ("email", "first_name", "last_name") if names else ("email",):
        field = _mapped(form, config, contact_field)
        values[contact_field] = _answer(data, field.key) if field is not None else ""
    email = values.get("email") or contact.email
    first, last = values.get("first_name", "") or contact.first_name, values.get("last_name", "") or contact.last_name
    if normalize_email(email) == contact.email_key:
        return contact, email, first, last
    result = contacts.upsert_contacts([{"email": email, "first_name": first, "last_name": last}],
                                      policy={"first_name": "fill", "last_name": "fill"}, skip_invalid=True)
    pk = result.ids.get(normalize_email(email))
    if pk is None:
        raise LiaisonError(f"“{email}” is not a valid e-mail address.")
    return Contact.objects.get(pk=pk), email, first, last


def _event_keys(submission, form: FormSpec, product: str, config_event: str) -> list[str]:
    if config_event != VISITOR_SELECTS:
        return [config_event]
    keys: list[str] = []
    for field in form.fields_of_type(field_type_key(product)):
        value = (submission.data or {}).get(field.key)
        for key in value if isinstance(value, list) else [value]:
            if key and str(key) not in keys:
                keys.append(str(key))
    return keys


def _event_choices(product: str, form: FormSpec, action_key: str) -> list[tuple[str, str]]:
    """"Visitor selects", the upcoming events, and any event the form's actions already name."""
    items, _ = queries.event_choices(product, events=queries.upcoming_events(product,
                                                                             queries.usable_accounts(product)),
                                     limit=MAX_CHOICES, soonest_first=True)
    known = {key for key, _ in items}
    stored = [a.config.get("event") for a in form.actions_of(action_key)]
    stored = [k for k in stored if k and k != VISITOR_SELECTS and k not in known]
    extra = list(queries.event_labels(product, stored).items())
    field_label = FIELD_LABELS.get(product, "")
    return [(VISITOR_SELECTS, f"Visitor selects (the form's “{field_label}” field)"), *extra, *items]


def _check_event(product: str, event: str, label: str) -> list[str]:
    if event == VISITOR_SELECTS:
        return []
    if not Event.objects.filter(product=product, provider_key=event).exists():
        return [f"{label}: there is no {NOUNS[product]} {event} (is GoTo synchronised?)."]
    return []


def _check_mapping(form: FormSpec, config: BaseModel, label: str, needs: tuple[str, ...]) -> list[str]:
    problems = []
    for contact_field in needs:
        key = getattr(config, f"{contact_field}_field", "")
        if key and form.field(key) is None:
            problems.append(f"{label}: the form has no field “{key}” for the {CONTACT_LABELS[contact_field]}.")
        elif key and form.field(key).type in NOT_MAPPABLE:
            problems.append(f"{label}: “{form.field(key).label}” cannot give the {CONTACT_LABELS[contact_field]}.")
    return problems


def _check_email(email_id: int, tokens: tuple[str, ...], label: str) -> list[str]:
    from liaison.emails.models import Email

    email = Email.objects.filter(pk=email_id).first()
    if email is None:
        return [f"{label}: there is no e-mail #{email_id}."]
    if email.kind != Email.Kind.TEMPLATE:
        return [f"{label}: “{email.name}” is a segment e-mail; choose a template e-mail."]
    if not any(use.name in tokens for use in email.token_uses()):
        return [f"{label}: “{email.name}” does not contain {{{tokens[0]}}}, so the link would not be in the message."]
    return []


def template_emails() -> list[tuple[str, str]]:
    from liaison.emails.models import Email

    return [(str(pk), name) for pk, name in Email.objects.filter(kind=Email.Kind.TEMPLATE, published=True)
            .order_by("name").values_list("pk", "name")]


def for_each_event(product: str, keys: list[str], work) -> tuple[list[dict[str, Any]], list[str]]:
    """``work(event) -> dict`` for each chosen event, in order: what was done, and the problems
    in words (an event unknown or switched off, GoTo's refusal). A transient GoTo failure is
    raised after the others are done (the job retries; what succeeded is known by then)."""
    noun = NOUNS[product]
    events = services.usable_events(product, keys)
    done, problems, retry = [], [], None
    for key in keys:
        event = events.get(key)
        if event is None:
            problems.append(f"The {noun} {key} is not available (unknown here, or its GoTo account is unpublished "
                            f"or has {PRODUCT_LABELS[product]} switched off).")
            continue
        try:
            done.append(work(event))
        except ProviderError as exc:
            if exc.retryable:
                retry = RetryableError(f"“{event.title}”: {exc}", retry_after=exc.retry_after)
            else:
                problems.append(f"“{event.title}”: {exc}")
        except (ValidationFailed, LiaisonError) as exc:
            problems.append(f"“{event.title}”: {_words(exc)}")
    if retry is not None:
        raise retry
    return done, problems


# -- register to a webinar or a training ------------------------------------------------------------------

_MAPPING_HELP = "Blank: the field that fills the contact's {what}."


class EventChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(VISITOR_SELECTS, max_length=40, title="Event",
                       description="“Visitor selects”: the one(s) chosen in the form's Upcoming field; or always this "
                                   "one.")


class EmailMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email_field: str = Field("", max_length=64, title="Contact e-mail field",
                             description=_MAPPING_HELP.format(what="e-mail"))


class NameMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name_field: str = Field("", max_length=64, title="Contact first-name field",
                                  description=_MAPPING_HELP.format(what="first name"))
    last_name_field: str = Field("", max_length=64, title="Contact last-name field",
                                 description=_MAPPING_HELP.format(what="last name"))


class TemplateChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email_id: int = Field(..., title="Send this e-mail template",
                          description="A template e-mail containing the button token ({meeting_button}, "
                                      "{training_button}, {assist_button}).")


class RegisterConfig(NameMapping, EmailMapping, EventChoice):
    """Event, then the e-mail and name mappings."""


class WebinarRegisterConfig(RegisterConfig):
    extra_fields: str = Field(
        "", max_length=2000, title="Other registrant fields and questions",
        description="“GoTo field or question = form field key”, separated by “;”, e.g. “organization=company; "
                    "jobTitle=position; What is your role?=role”. Questions are matched by their text or key; a "
                    "webinar that does not ask one is registered without it.")


PAIR = re.compile(r"^\s*(.+?)\s*=\s*([a-z][a-z0-9_]*)\s*$")


def parse_extra_fields(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``[(GoTo field or question, form field key)]`` and the parts that could not be read."""
    pairs, bad = [], []
    for part in re.split(r"[;\n]", text or ""):
        if not part.strip():
            continue
        match = PAIR.match(part)
        if match is None:
            bad.append(part.strip())
        else:
            pairs.append((match.group(1), match.group(2)))
    return pairs, bad


def registrant_fields(event: Event, pairs: list[tuple[str, str]], data: dict[str, Any]) -> dict[str, Any]:
    """The extra registration body for one webinar: standard fields, and ``responses`` to the
    custom questions this webinar asks (read from GoTo, cached: ``services.registration_form``)."""
    body: dict[str, Any] = {}
    questions = [(target, key) for target, key in pairs if target not in REGISTRANT_FIELDS]
    for target, key in pairs:
        value = _answer(data, key)
        if target in REGISTRANT_FIELDS and value:
            body[target] = value
    if not questions:
        return body
    asked = services.registration_form(event)["questions"]
    responses = []
    for target, key in questions:
        question = next((q for q in asked if q["key"] == target or q["question"].strip().lower()
                         == target.strip().lower()), None)
        value = _answer(data, key)
        if question is None or not value:
            continue  # this webinar does not ask it (visitors may pick webinars with other questions)
        if question["type"] == "multipleChoice":
            answer = next((a for a in question["answers"] if a["answer"].strip().lower() == value.lower()
                           or a["key"] == value), None)
            if answer is None:
                offered = f"“{value}” is not one of the answers GoToWebinar offers to “{question['question']}”."
                raise ValidationFailed({"__all__": [offered]})
            responses.append({"questionKey": int(question["key"]), "answerKey": int(answer["key"])})
        else:
            responses.append({"questionKey": int(question["key"]), "responseText": value[:1000]})
    if responses:
        body["responses"] = responses
    return body


@dataclass(eq=False, repr=False)
class RegisterAction(FormAction):
    product: str = "webinar"

    def run(self, submission, contact, config: RegisterConfig) -> ActionResult:
        noun = NOUNS[self.product]
        form = _form_spec(submission)
        keys = _event_keys(submission, form, self.product, config.event)
        if not keys:
            return ActionResult(False, f"No {noun} was chosen: nobody was registered.")
        person, email, first, last = _person(submission, form, config, contact)
        pairs, _ = parse_extra_fields(getattr(config, "extra_fields", ""))

        def register(event: Event) -> dict[str, Any]:
            if event.status in (Event.Status.PAST, Event.Status.CANCELLED) or (
                    event.ends_at and event.ends_at <= timezone.now()):
                state = "was cancelled" if event.status == Event.Status.CANCELLED else "is over"
                raise LiaisonError(f"the {noun} {state}: registration is closed.")
            fields = registrant_fields(event, pairs, submission.data or {}) if pairs else None
            outcome = services.register_contact(event, person, source="form", first_name=first, last_name=last,
                                                fields=fields or None)
            return {"event": event.provider_key, "title": event.title, "registration_id": outcome.registration.pk,
                    "join_url": outcome.join_url, "created": outcome.created, "contact_id": person.pk}

        done, problems = for_each_event(self.product, keys, register)
        sentences = [(f"Registered {email} for “{d['title']}”." if d["created"] else
                      f"{email} was already registered for “{d['title']}”; the existing registration is kept.")
                     + (f" Join link: {d['join_url']}" if d["join_url"] else "") for d in done]
        return ActionResult(not problems, " ".join(sentences + problems),
                            {"registrations": done, "problems": problems})

    def check(self, config: RegisterConfig, form: FormSpec) -> list[str]:
        problems = _check_event(self.product, config.event, self.label)
        problems += _check_mapping(form, config, self.label, ("email", "first_name", "last_name"))
        pairs, bad = parse_extra_fields(getattr(config, "extra_fields", ""))
        if bad:
            problems.append(f"{self.label}: write other fields as “GoTo field = form field key” separated by “;” "
                            f"(could not read: {', '.join(f'“{b}”' for b in bad[:3])}).")
        for target, key in pairs:
            if form.field(key) is None:
                problems.append(f"{self.label}: the form has no field “{key}” (for “{target}”).")
        return problems

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        if name == "event":
            return _event_choices(self.product, form, self.key)
        if name.endswith("_field") and name != "extra_fields":
            return _mappable(form)
        return None

    def summary(self, config: RegisterConfig) -> str:
        if config.event == VISITOR_SELECTS:
            return f"{self.label}: chosen by the visitor"
        return f"{self.label}: {queries.event_labels(self.product, [config.event]).get(config.event, config.event)}"


# -- start links and support sessions -----------------------------------------------------------------------

class StartLinkConfig(TemplateChoice, EmailMapping, EventChoice):
    """Event, the e-mail mapping, the e-mail template."""


@dataclass(eq=False, repr=False)
class StartLinkAction(FormAction):
    """E-mail the organizer's start link (who gets it can start the event: internal forms only)."""

    product: str = "meeting"

    def run(self, submission, contact, config: StartLinkConfig) -> ActionResult:
        from liaison.emails.models import Email

        noun = NOUNS[self.product]
        email = Email.objects.filter(pk=config.email_id).first()
        if email is None:
            return ActionResult(False, f"The e-mail #{config.email_id} no longer exists: no start link was sent.")
        form = _form_spec(submission)
        keys = _event_keys(submission, form, self.product, config.event)
        if not keys:
            return ActionResult(False, f"No {noun} was chosen: no start link was sent.")
        person, address, _, _ = _person(submission, form, config, contact, names=False)

        def send(event: Event) -> dict[str, Any]:
            sent = services.send_start_link(event, person, email,
                                            dedupe_key=f"goto:form:{submission.pk}:start:{event.pk}")
            return {"event": event.provider_key, "title": event.title, "send_id": sent.pk}

        sent, problems = for_each_event(self.product, keys, send)
        sentences = [f"Start link of “{s['title']}” e-mailed to {address} with “{email.name}”." for s in sent]
        return ActionResult(not problems, " ".join(sentences + problems), {"sends": sent, "problems": problems})

    def check(self, config: StartLinkConfig, form: FormSpec) -> list[str]:
        return (_check_event(self.product, config.event, self.label)
                + _check_mapping(form, config, self.label, ("email",))
                + _check_email(config.email_id, (services.BUTTON_TOKENS[self.product],), self.label))

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        if name == "event":
            return _event_choices(self.product, form, self.key)
        if name == "email_field":
            return _mappable(form)
        if name == "email_id":
            return template_emails()
        return None


class AssistConfig(TemplateChoice, NameMapping, EmailMapping):
    account: int | None = Field(None, title="GoTo account",
                                description="The GoToAssist account (blank: the first with GoToAssist on).")


@dataclass(eq=False, repr=False)
class AssistAction(FormAction):
    def run(self, submission, contact, config: AssistConfig) -> ActionResult:
        from liaison.emails.models import Email

        email = Email.objects.filter(pk=config.email_id).first()
        if email is None:
            return ActionResult(False, f"The e-mail #{config.email_id} no longer exists: no session was requested.")
        accounts = queries.usable_accounts("assist")
        if config.account:
            accounts = [a for a in accounts if a == config.account]
        integration = Integration.objects.filter(pk__in=accounts).order_by("pk").first()
        if integration is None:
            return ActionResult(False, "No published GoTo account has GoToAssist switched on: no session was "
                                       "requested.")
        form = _form_spec(submission)
        person, address, first, last = _person(submission, form, config, contact)
        try:
            # The connector's GoToAssist workflow: the session carries the contact's reference (the
            # sync links it back), both steps are on the timeline, the link travels in the send.
            session = support.start_session(integration, person, customer_name=f"{first} {last}".strip(),
                                            customer_email=address)
            send = support.send_join_link(session, email)
        except ProviderError as exc:
            if exc.retryable:
                raise RetryableError(str(exc), retry_after=exc.retry_after) from exc
            return ActionResult(False, str(exc))
        except (ValidationFailed, LiaisonError) as exc:
            return ActionResult(False, _words(exc))
        return ActionResult(True, f"Support session {session.session_id} created; its join link was e-mailed to "
                                  f"{address} with “{email.name}”: {session.customer_join_url}",
                            {"session_id": session.session_id, "join_url": session.customer_join_url,
                             "send_id": send.pk})

    def check(self, config: AssistConfig, form: FormSpec) -> list[str]:
        return (_check_mapping(form, config, self.label, ("email", "first_name", "last_name"))
                + _check_email(config.email_id, tuple(reversed(support.LINK_TOKENS)), self.label))

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        if name == "account":
            return account_choices("assist")
        if name.endswith("_field"):
            return _mappable(form)
        if name == "email_id":
            return template_emails()
        return None


# -- save-time checks (Mautic's rules and messages) ------------------------------------------------------------

# action key -> (product whose select "visitor selects" reads, contact fields the action needs)
ACTION_NEEDS = {
    "goto.webinar.register": ("webinar", ("email", "first_name", "last_name")),
    "goto.training.register": ("training", ("email", "first_name", "last_name")),
    "goto.meeting.start_link": ("meeting", ("email",)),
    "goto.training.start_link": ("training", ("email",)),
    "goto.assist.request": (None, ("email", "first_name", "last_name")),
}


def required_fields(form: FormSpec) -> dict[str, list[str]]:
    """Mautic's form checks for its GoTo actions, with its messages:

    * the e-mail, first-name and last-name fields an action reads must exist and be required
      ("No field matches the contact field '%s'. Please add one through the Fields tab." /
      "The field '%s' should be set as required. ..."),
    * an action whose event the visitor selects needs a required Upcoming field of the same
      product ("The required field '%s' is missing. Please add it through the Fields tab.").
    """
    problems: dict[str, list[str]] = {}

    def add(where: str, message: str) -> None:
        if message not in problems.setdefault(where, []):
            problems[where].append(message)

    for action in form.actions:
        if action.key not in ACTION_NEEDS:
            continue
        product, needs = ACTION_NEEDS[action.key]
        for contact_field in needs:
            key = str(action.config.get(f"{contact_field}_field") or "")
            field = form.field(key) if key else form.field_for(contact_field)
            if field is None:
                if not key:  # an unknown mapped key is reported by the action's own check
                    add("__all__", f"No field matches the contact field “{CONTACT_LABELS[contact_field]}”. Please add "
                                   f"one through the Fields section.")
            elif not field.required:
                add(f"fields.{form.fields.index(field)}", f"The field “{field.label}” should be set as required. "
                                                          f"Tick “Required” on the field.")
        if product is not None and (action.config.get("event") or VISITOR_SELECTS) == VISITOR_SELECTS:
            selects = form.fields_of_type(field_type_key(product))
            if not selects:
                add("__all__", f"The required field “{FIELD_LABELS[product]}” is missing. Please add it through the "
                               f"Fields section.")
            elif not any(f.required for f in selects):
                add(f"fields.{form.fields.index(selects[0])}", f"The field “{selects[0].label}” should be set as "
                                                               f"required. Tick “Required” on the field.")
    return {where: messages for where, messages in problems.items() if messages}


def form_contributions() -> list:
    found: list = []
    for product, noun in NOUNS.items():
        label = PRODUCT_LABELS[product]
        found.append(UpcomingEvents(
            key=field_type_key(product), label=FIELD_LABELS[product], group=label, widget="select",
            config_schema=UpcomingConfig, live_choices=True, product=product,
            description=f"The {noun}s people can still register for, from the events Liaison synchronises (no "
                        f"call to GoTo while the form is drawn)."))
    found += [
        RegisterAction(key="goto.webinar.register", label="Register to webinar", group="GoToWebinar",
                       runs_in_job=True, config_schema=WebinarRegisterConfig, product="webinar",
                       description="Registers the person on GoToWebinar (already registered: the existing registration "
                                   "and its join link are kept)."),
        RegisterAction(key="goto.training.register", label="Register to training", group="GoToTraining",
                       runs_in_job=True, config_schema=RegisterConfig, product="training",
                       description="Registers the person on GoToTraining."),
        *(StartLinkAction(key=f"goto.{p}.start_link", label=f"Send {PRODUCT_LABELS[p]} start link",
                          group=PRODUCT_LABELS[p], runs_in_job=True, config_schema=StartLinkConfig, product=p,
                          description=f"E-mails the organizer's start link ({{{services.BUTTON_TOKENS[p]}}}): whoever "
                                      f"gets it can start the {p}, so use it on internal forms.")
          for p in ("meeting", "training")),
        AssistAction(key="goto.assist.request", label="Request GoToAssist session (send link)", group="GoToAssist",
                     runs_in_job=True, config_schema=AssistConfig,
                     description="Creates a GoToAssist support session for the person and e-mails its join link "
                                 "({assist_button})."),
        FormValidator(key="goto.form_fields", label="GoTo actions: required fields", check=required_fields),
    ]
    return found
