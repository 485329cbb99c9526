"""Form contributions: field types, submit actions and save-time validators.

The webforms app renders and validates fields, stores submissions and runs actions; what
a field or an action *is* comes from the registry, so integrations add theirs (an
"upcoming webinars" select, "register to webinar", "push contact to CRM") without the
webforms app knowing them.

Save-time checks see the form being saved as a ``FormSpec`` (plain data, not yet in the
database), so they can refuse a form before anything is written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from liaison.core.contributions.base import Contribution

# The apps' models, named for readability only: core never imports an app.
Contact = Any
FormField = Any
Submission = Any

Widget = Literal["text", "textarea", "email", "number", "date", "select", "radio", "checkbox", "hidden"]
WIDGETS: tuple[str, ...] = ("text", "textarea", "email", "number", "date", "select", "radio", "checkbox", "hidden")


# -- the form being saved, as plain data ------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    """A field of the form being saved (``type`` is a ``FormFieldType`` key)."""

    key: str
    label: str
    type: str
    required: bool = False
    contact_field: str = ""
    options: tuple[tuple[str, str], ...] = ()
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    """An action of the form being saved (``key`` is a ``FormAction`` key; config as stored)."""

    key: str
    config: dict[str, Any] = field(default_factory=dict)
    order: int = 0


@dataclass(frozen=True)
class FormSpec:
    """The whole form being saved: what validators and ``FormAction.check`` look at."""

    name: str
    fields: tuple[FieldSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()

    def field(self, key: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.key == key), None)

    def field_for(self, contact_field: str) -> FieldSpec | None:
        """The field mapped to a contact field key (``email``, ``first_name``, ``custom.x``)."""
        return next((f for f in self.fields if f.contact_field == contact_field), None)

    def fields_of_type(self, type_key: str) -> list[FieldSpec]:
        return [f for f in self.fields if f.type == type_key]

    def actions_of(self, *keys: str) -> list[ActionSpec]:
        return [a for a in self.actions if a.key in keys]


# -- field types ------------------------------------------------------------------------

@dataclass(eq=False, repr=False)
class FormFieldType(Contribution):
    """A kind of form field: how it renders, what it offers, how its value is checked.

    - ``widget``: the input the public page draws (one of ``WIDGETS``); ``template``
      replaces it with your own (it gets ``field``, ``name``, ``value``, ``choices``,
      ``errors``).
    - ``has_options``: the builder asks for the field's own options (select, radio,
      checkboxes); otherwise ``choices(field)`` supplies them (e.g. from a local table).
    - ``config_schema``: extra per-field settings (a pydantic model), shown in the
      builder; read them from ``field.config``. ``config_choices(name, form)`` may offer
      choices for one of them.
    - ``live_choices``: ``choices(field)`` reads data that changes by itself (a table kept
      fresh by a sync); the public page's cached drawing then also depends on them.
    - ``clean(value, field)`` gets the submitted value (a string, or a list of strings
      when ``is_multiple(field)``), never empty (the required check runs first), and
      returns the value to store or raises ``django.core.exceptions.ValidationError``
      with a sentence shown next to the field, e.g. "This webinar is no longer available."

    ``field`` is a ``webforms.FormField`` (``key``, ``label``, ``type``, ``required``,
    ``options`` as ``[{"value", "label"}]``, ``config``, ``validation``, ``contact_field``).
    """

    kind: ClassVar[str] = "form_field_type"
    key: str
    label: str
    widget: Widget = "text"
    group: str = "Standard"
    template: str = ""
    has_options: bool = False
    config_schema: type[BaseModel] | None = None
    description: str = ""
    # Whether a value is kept with the submission (a hidden UTM field is; a captcha is not).
    stores_value: bool = True
    # Choices read from data that changes without the form changing (upcoming webinars): the
    # public page is then never served from a copy drawn with older choices.
    live_choices: bool = False

    def choices(self, field: FormField) -> list[tuple[str, str]]:
        return [(str(o.get("value", "")), str(o.get("label", o.get("value", "")))) for o in field.options or []]

    def is_multiple(self, field: FormField) -> bool:
        """A list of values (checkbox group, multiple select) rather than one."""
        if self.widget == "checkbox":
            return bool(self.choices(field))  # a group of boxes; a lone box is yes/no
        return self.widget == "select" and bool((field.config or {}).get("multiple"))

    def clean(self, value: Any, field: FormField) -> Any:
        return value

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        return None

    def validate(self) -> None:
        super().validate()
        if self.widget not in WIDGETS:
            raise ValueError(f"{self.key}: unknown widget {self.widget!r}")
        if self.config_schema is not None and not issubclass(self.config_schema, BaseModel):
            raise ValueError(f"{self.key}: config_schema must be a pydantic model")


# -- actions ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionResult:
    """What an action did, in a sentence for the timeline and the submission's page.

    ``retry``: a transient failure of this one item (campaign and point-trigger actions):
    it is tried again later with back-off, then reported failed with ``message``.
    """

    ok: bool
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    retry: bool = False


class NoConfig(BaseModel):
    """The configuration of an action that has none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(eq=False, repr=False)
class FormAction(Contribution, ABC):
    """Something done with each submission of a form, in the order the form lists them.

    Subclass it and implement ``run``::

        class PushToCrm(FormAction):
            def run(self, submission, contact, config):
                remote_id = crm_client().push(contact)           # may raise RetryableError
                return ActionResult(True, f"Pushed to the CRM as {remote_id}.", {"id": remote_id})

        registry.register(PushToCrm(key="ines.push_contact", label="Push contact to INES CRM",
                                    group="INES CRM", runs_in_job=True, config_schema=PushConfig))

    - ``config_schema``: a pydantic model; the form stores ``model_dump(mode="json")``
      and ``run`` gets the validated model. ``config_choices(name, form)`` may return
      ``[(value, label)]`` to draw one config field as a select (segments, webinars, or
      the form's own fields for a field mapping).
    - ``check(config, form)`` returns sentences when the config does not fit the form
      (a mapped field that does not exist, ...): the form is not saved.
    - ``runs_in_job``: anything calling an external service sets it; the action then
      runs in a background job, never in the visitor's request. Raise
      ``liaison.core.errors.RetryableError`` for a transient failure (retried with
      back-off) and ``LiaisonError`` for a final one; the outcome reaches the contact's
      timeline and the submission's page.
    - ``needs_contact``: the action needs the submitter's contact (a form without an
      e-mail field has none); then ``contact`` is never None.
    - ``run(submission, contact, config)``: ``submission`` is a ``webforms.Submission``
      (``form``, ``data`` = {field key: cleaned value}, ``created_at``, ``pk``).
      ``run_batch(items, config)`` does the same for many submissions (see there).
    """

    kind: ClassVar[str] = "form_action"
    key: str
    label: str
    config_schema: type[BaseModel] = NoConfig
    runs_in_job: bool = False
    needs_contact: bool = True
    group: str = "Liaison"
    description: str = ""

    @abstractmethod
    def run(self, submission: Submission, contact: Contact | None, config: BaseModel) -> ActionResult:
        """Do the work for one submission."""

    def run_batch(self, items: list[tuple[Submission, Contact | None]], config: BaseModel) -> list[ActionResult]:
        """Do the work for several submissions of one form at once: one result per item, in order.

        Submissions are processed in batches; actions that run outside jobs get a batch and
        may override this to use bulk services (one query for all). The default runs each.
        If it raises, each item is run alone, so one bad item cannot fail the others.
        """
        return [self.run(submission, contact, config) for submission, contact in items]

    def check(self, config: BaseModel, form: FormSpec) -> list[str]:
        return []

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        return None

    def summary(self, config: BaseModel) -> str:
        """One line describing a configured action in the builder."""
        return self.label

    def validate(self) -> None:
        super().validate()
        if not (isinstance(self.config_schema, type) and issubclass(self.config_schema, BaseModel)):
            raise ValueError(f"{self.key}: config_schema must be a pydantic model")


# -- save-time validators -------------------------------------------------------------------

@dataclass(eq=False, repr=False)
class FormValidator(Contribution):
    """A rule checked whenever a form is saved (UI and API); problems refuse the save.

    The same shape as ``EmailValidator``: ``check(form)`` gets the whole form being saved
    as a ``FormSpec`` (nothing is written yet) and returns sentences (shown at the top of
    the builder, or next to ``field``) or ``{field: [sentences]}`` with fields such as
    ``fields.2`` or ``actions.0``. For example::

        def registration_needs_names(form: FormSpec) -> list[str]:
            if not form.actions_of("goto.webinar.register"):
                return []
            return [f"Add a required field mapped to the contact's {name}." for name in
                    ("email", "first_name", "last_name")
                    if not (form.field_for(name) and form.field_for(name).required)]

        registry.register(FormValidator(key="goto.webinar.fields", label="GoToWebinar registration fields",
                                        check=registration_needs_names))
    """

    kind: ClassVar[str] = "form_validator"
    key: str
    label: str
    check: Callable[[FormSpec], Mapping[str, Iterable[str]] | Iterable[str]]
    field: str = "__all__"

    def problems(self, form: FormSpec) -> dict[str, list[str]]:
        found = self.check(form) or []
        if isinstance(found, Mapping):
            return {name: list(messages) for name, messages in found.items() if messages}
        messages = list(found)
        return {self.field: messages} if messages else {}
