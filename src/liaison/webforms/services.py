"""Forms services: saving a form (with its save-time checks), submitting, actions, stats.

The submit path is built for load: the form's definition is cached per process (keyed by
its ``updated_at``), a submission is checked and stored with one INSERT, and a job
processes stored submissions in batches (contacts and timeline through the bulk contacts
services, then the actions in order; those that call out in a job of their own). Views
are counted in memory and written in batches.
"""

from __future__ import annotations

import atexit
import csv
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core import signing
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Count, F, When
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.text import slugify
from pydantic import BaseModel

from liaison.contacts import services as contacts
from liaison.contacts.fields import catalogue_by_key
from liaison.contacts.models import Contact, Field, normalize_email
from liaison.core import events, jobs, writegate
from liaison.core.contributions import ActionSpec, ContactEvent, FieldSpec, FormFieldType, FormSpec, FormValidator
from liaison.core.contributions import FormAction as ActionType
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.models import Job
from liaison.core.registry import registry
from liaison.core.schema import validate_model
from liaison.webforms import intake
from liaison.webforms.fields import read_values
from liaison.webforms.models import ActionRun, Form, FormAction, FormDayStat, FormField, Submission

logger = logging.getLogger(__name__)

MAX_FIELDS = 100
MAX_ACTIONS = 30
# Input names the public page uses for itself; no field may take them.
HONEYPOT = "website_url"
TOKEN = "form_token"
RESERVED_KEYS = {HONEYPOT, TOKEN, "embed", "csrfmiddlewaretoken", "submit"}
TOKEN_MAX_AGE = 2 * 24 * 3600
VALIDATION_KEYS = {"min_length", "max_length", "min", "max", "pattern", "pattern_message"}


# -- saving a form ---------------------------------------------------------------------------

def _as_options(raw: Any) -> list[dict[str, str]]:
    """Options from ``[{value, label}]``, ``[["v", "l"]]``, ``["v"]`` or lines ``value|label``."""
    if isinstance(raw, str):
        raw = [line for line in raw.splitlines() if line.strip()]
    options = []
    for item in raw or []:
        if isinstance(item, dict):
            value, label = item.get("value", ""), item.get("label", item.get("value", ""))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            value, label = item
        else:
            value, _, label = str(item).partition("|")
        value, label = str(value).strip(), str(label).strip() or str(value).strip()
        if value:
            options.append({"value": value[:200], "label": label[:200]})
    return options


def _key_from(label: str, taken: set[str]) -> str:
    base = slugify(label).replace("-", "_")[:50] or "field"
    if not base[0].isalpha():
        base = f"f_{base}"
    key, n = base, 2
    while key in taken or key in RESERVED_KEYS:
        key, n = f"{base}_{n}", n + 1
    return key


def _clean_validation(raw: Any, path: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    if not raw:
        return {}
    if not isinstance(raw, dict):
        errors.setdefault(path, []).append("Validation rules must be an object.")
        return {}
    rules: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in VALIDATION_KEYS:
            errors.setdefault(f"{path}.{name}", []).append("There is no such rule.")
            continue
        if value in (None, ""):
            continue
        if name in ("min_length", "max_length"):
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = -1
            if not 0 <= number <= 100_000:
                errors.setdefault(f"{path}.{name}", []).append("Enter a whole number between 0 and 100,000.")
                continue
            rules[name] = number
        elif name in ("min", "max"):
            try:
                rules[name] = float(value) if "." in str(value) else int(value)
            except (TypeError, ValueError):
                errors.setdefault(f"{path}.{name}", []).append("Enter a number.")
                continue
            if abs(rules[name]) > 10**15:
                errors.setdefault(f"{path}.{name}", []).append("This number is too large.")
        elif name == "pattern":
            text = str(value)
            try:
                re.compile(text)
            except re.error as exc:
                errors.setdefault(f"{path}.pattern", []).append(f"Not a valid regular expression: {exc}.")
                continue
            if len(text) > 300:
                errors.setdefault(f"{path}.pattern", []).append("Use at most 300 characters.")
                continue
            rules[name] = text
        else:
            rules[name] = str(value)[:300]
    if rules.get("min_length") and rules.get("max_length") and rules["min_length"] > rules["max_length"]:
        errors.setdefault(f"{path}.max_length", []).append("The maximum is below the minimum.")
    return rules


def _config(schema: type[BaseModel] | None, raw: Any, path: str, errors: dict[str, list[str]]
            ) -> tuple[dict[str, Any], BaseModel | None]:
    if schema is None:
        return {}, None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.setdefault(path, []).append("The configuration must be an object.")
        return {}, None
    try:
        model = validate_model(schema, raw, prefix=f"{path}.")
    except ValidationFailed as exc:
        for key, messages in exc.errors.items():
            errors.setdefault(key, []).extend(messages)
        return dict(raw), None
    return model.model_dump(mode="json"), model


@dataclass
class CleanForm:
    values: dict[str, Any]
    fields: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    spec: FormSpec


def clean_form(data: Mapping[str, Any], form: Form | None = None) -> CleanForm:
    """Check a whole form (settings, fields, actions) and run the save-time validators.

    Raises ``ValidationFailed`` with messages keyed ``name``, ``fields.2.label``,
    ``actions.0.config.segment_id`` or ``__all__`` (validators).
    """
    errors: dict[str, list[str]] = {}
    current = form or Form()
    values: dict[str, Any] = {}
    for name, limit in (("name", 200), ("title", 200), ("submit_label", 80), ("redirect_url", 500)):
        value = " ".join(str(data.get(name, getattr(current, name)) or "").split())
        if len(value) > limit:
            errors.setdefault(name, []).append(f"Use at most {limit} characters.")
        values[name] = value
    for name in ("intro", "success_message"):
        values[name] = str(data.get(name, getattr(current, name)) or "")[:10_000]
    values["published"] = bool(data.get("published", current.published))
    if not values["name"]:
        errors.setdefault("name", []).append("A form needs a name.")
    if not values["submit_label"]:
        values["submit_label"] = "Submit"
    if values["redirect_url"] and not re.match(r"^https?://[^\s/$.?#].[^\s]*$", values["redirect_url"]):
        errors.setdefault("redirect_url", []).append("Enter a full web address (https://...), or leave it empty.")
    slug = str(data.get("slug") or current.slug or "").strip().lower()
    if slug:
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug) or len(slug) > 80:
            errors.setdefault("slug", []).append("Use lower-case letters, digits and dashes.")
        elif Form.objects.filter(slug=slug).exclude(pk=current.pk).exists():
            errors.setdefault("slug", []).append("Another form already has this address.")
    values["slug"] = slug
    stored_fields = {f.key: f for f in current.fields.all()} if current.pk else {}
    stored_actions = list(current.actions.all()) if current.pk else []

    raw_fields = data.get("fields", None)
    if raw_fields is None:
        raw_fields = [_field_dict(f) for f in stored_fields.values()]
    if not isinstance(raw_fields, list) or len(raw_fields) > MAX_FIELDS:
        errors.setdefault("fields", []).append(f"Give a list of at most {MAX_FIELDS} fields.")
        raw_fields = []
    catalogue = catalogue_by_key()
    fields: list[dict[str, Any]] = []
    taken: set[str] = set()
    mapped: dict[str, str] = {}
    for index, raw in enumerate(raw_fields):
        path = f"fields.{index}"
        if not isinstance(raw, dict):
            errors.setdefault(path, []).append("Each field must be an object.")
            continue
        unknown = set(raw) - {"key", "label", "type", "required", "help_text", "placeholder", "default", "options",
                              "validation", "contact_field", "config", "id", "order"}
        for name in sorted(map(str, unknown)):
            errors.setdefault(f"{path}.{name}", []).append("Unknown field property.")
        label = " ".join(str(raw.get("label") or "").split())[:200]
        if not label:
            errors.setdefault(f"{path}.label", []).append("Give the field a label.")
        key = str(raw.get("key") or "").strip().lower() or _key_from(label, taken)
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
            errors.setdefault(f"{path}.key", []).append(
                "Use lower-case letters, digits and underscores, starting with a letter.")
        elif key in RESERVED_KEYS:
            errors.setdefault(f"{path}.key", []).append("This key is reserved; choose another.")
        elif key in taken:
            errors.setdefault(f"{path}.key", []).append("Another field already has this key.")
        taken.add(key)
        type_key = str(raw.get("type") or "text")
        kind = registry.find(FormFieldType, type_key)
        stored = stored_fields.get(key)
        item = {
            "key": key, "label": label, "type": type_key, "required": bool(raw.get("required")),
            "help_text": str(raw.get("help_text") or "")[:300], "placeholder": str(raw.get("placeholder") or "")[:200],
            "default": str(raw.get("default") if raw.get("default") is not None else "")[:500],
            "options": _as_options(raw.get("options")), "contact_field": str(raw.get("contact_field") or ""),
            "validation": _clean_validation(raw.get("validation"), f"{path}.validation", errors),
            "config": raw.get("config") or {},
        }
        if kind is None:
            if not (stored and _field_dict(stored) == {**_field_dict(stored), **item}):
                errors.setdefault(f"{path}.type", []).append(
                    f"There is no field type “{type_key}” (is its integration installed?).")
        else:
            item["config"], _ = _config(kind.config_schema, raw.get("config"), f"{path}.config", errors)
            if kind.has_options and kind.widget != "checkbox" and not item["options"]:  # one box needs none
                errors.setdefault(f"{path}.options", []).append("Give at least one option.")
        contact_field = item["contact_field"]
        if contact_field:
            if contact_field not in catalogue or contact_field == "owner":
                errors.setdefault(f"{path}.contact_field", []).append("There is no such contact field.")
            elif contact_field in mapped:
                errors.setdefault(f"{path}.contact_field", []).append(
                    f"The field “{mapped[contact_field]}” already fills this contact field.")
            mapped.setdefault(contact_field, label)
        fields.append(item)

    raw_actions = data.get("actions", None)
    if raw_actions is None:
        raw_actions = [{"key": a.key, "config": a.config} for a in stored_actions]
    if not isinstance(raw_actions, list) or len(raw_actions) > MAX_ACTIONS:
        errors.setdefault("actions", []).append(f"Give a list of at most {MAX_ACTIONS} actions.")
        raw_actions = []
    stored_pairs = [{"key": a.key, "config": a.config} for a in stored_actions]
    actions: list[dict[str, Any]] = []
    models: list[tuple[int, ActionType, BaseModel]] = []
    for index, raw in enumerate(raw_actions):
        path = f"actions.{index}"
        if not isinstance(raw, dict) or set(raw) - {"key", "config", "id", "order"}:
            errors.setdefault(path, []).append("Each action is an object with a key and a config.")
            continue
        key = str(raw.get("key") or "")
        action = registry.find(ActionType, key)
        if action is None:
            if {"key": key, "config": raw.get("config") or {}} not in stored_pairs:
                errors.setdefault(f"{path}.key", []).append(
                    f"There is no action “{key}” (is its integration installed?).")
            actions.append({"key": key, "config": raw.get("config") or {}})
            continue
        config, model = _config(action.config_schema, raw.get("config"), f"{path}.config", errors)
        actions.append({"key": key, "config": config})
        if model is not None:
            models.append((index, action, model))
    spec = FormSpec(
        name=values["name"],
        fields=tuple(FieldSpec(key=f["key"], label=f["label"], type=f["type"], required=f["required"],
                               contact_field=f["contact_field"],
                               options=tuple((o["value"], o["label"]) for o in f["options"]), config=f["config"])
                     for f in fields),
        actions=tuple(ActionSpec(key=a["key"], config=a["config"], order=i) for i, a in enumerate(actions)),
    )
    for index, action, model in models:
        for message in action.check(model, spec):
            errors.setdefault(f"actions.{index}", []).append(message)
    if not errors:
        for validator in registry.all(FormValidator):
            for name, messages in validator.problems(spec).items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationFailed(errors)
    return CleanForm(values, fields, actions, spec)


def _field_dict(f: FormField) -> dict[str, Any]:
    return {"key": f.key, "label": f.label, "type": f.type, "required": f.required, "help_text": f.help_text,
            "placeholder": f.placeholder, "default": f.default, "options": f.options, "validation": f.validation,
            "contact_field": f.contact_field, "config": f.config}


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "form"
    slug, n = base, 2
    while Form.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def save_form(data: Mapping[str, Any], *, form: Form | None = None, user=None) -> Form:
    """Create or change a form with its fields and actions, all or nothing."""
    cleaned = clean_form(data, form)
    with transaction.atomic():
        form = form or Form(created_by=user if getattr(user, "is_authenticated", False) else None)
        for name, value in cleaned.values.items():
            setattr(form, name, value)
        form.slug = form.slug or _unique_slug(form.name)
        form.updated_at = timezone.now()
        form.save()
        FormField.objects.filter(form=form).delete()
        FormField.objects.bulk_create([FormField(form=form, order=i, **f) for i, f in enumerate(cleaned.fields)])
        FormAction.objects.filter(form=form).delete()
        FormAction.objects.bulk_create([FormAction(form=form, order=i, **a) for i, a in enumerate(cleaned.actions)])
    return form


def new_form_defaults() -> dict[str, Any]:
    """What a new form starts with: published, with an e-mail field that identifies the contact."""
    return {"name": "", "published": True, "submit_label": "Submit",
            "success_message": "Thank you! We have received your answers.",
            "fields": [{"key": "email", "label": "E-mail", "type": "email", "required": True,
                        "contact_field": "email"}],
            "actions": []}


def spec_of(form: Form) -> FormSpec:
    return FormSpec(
        name=form.name,
        fields=tuple(FieldSpec(key=f.key, label=f.label, type=f.type, required=f.required,
                               contact_field=f.contact_field, options=tuple((o["value"], o["label"])
                                                                            for o in f.options or []),
                               config=f.config) for f in form.fields.all()),
        actions=tuple(ActionSpec(key=a.key, config=a.config, order=a.order) for a in form.actions.all()))


def duplicate_form(form: Form, user=None) -> Form:
    data = {"name": f"{form.name} (copy)", "title": form.title, "intro": form.intro,
            "submit_label": form.submit_label, "success_message": form.success_message,
            "redirect_url": form.redirect_url, "published": False,
            "fields": [_field_dict(f) for f in form.fields.all()],
            "actions": [{"key": a.key, "config": a.config} for a in form.actions.all()]}
    return save_form(data, user=user)


def delete_submission(submission: Submission) -> None:
    """Delete a submission (the contact and its timeline stay)."""
    with transaction.atomic():
        submission.delete()
        Form.objects.filter(pk=submission.form_id, submission_count__gt=0).update(
            submission_count=F("submission_count") - 1)


# -- the public side -------------------------------------------------------------------------------

@dataclass
class PublicForm:
    """A form as the public page needs it (cached per process until the form changes)."""

    form: Form
    fields: list[FormField]
    actions: list[FormAction]


_cache: dict[str, tuple[Any, PublicForm]] = {}


def public_form(slug: str) -> PublicForm | None:
    """The published form at /f/<slug>/ (one query when the cached copy is current)."""
    # One plain statement per request (the ORM's cost is most of it): is the cached copy current?
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, updated_at FROM {Form._meta.db_table} WHERE slug = %s AND published = %s",
                       [slug, True])
        row = cursor.fetchone()
    if row is None:
        return None
    cached = _cache.get(slug)
    if cached and cached[0] == row:
        return cached[1]
    form = Form.objects.get(pk=row[0])
    loaded = PublicForm(form, list(form.fields.all()), list(form.actions.all()))
    _cache[slug] = (row, loaded)
    return loaded


def make_token(form: Form) -> str:
    """A signed token per rendering: the submission came from a page we drew (embeds have no cookies)."""
    return signing.dumps(form.pk, salt="webforms.public", compress=False)


def check_token(form: Form, token: str) -> bool:
    try:
        return signing.loads(token or "", salt="webforms.public", max_age=TOKEN_MAX_AGE) == form.pk
    except signing.BadSignature:
        return False


@dataclass
class Visitor:
    ip: str | None = None
    user_agent: str = ""
    referrer: str = ""


@dataclass
class Outcome:
    intake_key: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def submission(self) -> Submission | None:
        """The stored submission, once processed (at once where jobs run inline)."""
        if not self.intake_key:
            return None
        return Submission.objects.filter(intake_key=self.intake_key).first()


def submit(public: PublicForm, data, visitor: Visitor | None = None) -> Outcome:
    """Take a submission: check every field (and the values meant for the contact, as the
    contacts services will), then put it in the intake. Bad input changes nothing.

    The request stops there: one small write that never waits for the main database (see
    ``intake``). ``process`` then stores it, upserts the contact by e-mail and writes the
    timeline through the bulk contacts services, and runs the actions in order, in batches
    (within a moment; at once where jobs run inline). An entry leaves the intake only once
    stored, so a crash loses nothing.
    """
    visitor = visitor or Visitor()
    form = public.form
    values, errors, raw = read_values(public.fields, data)
    if errors:
        return Outcome(errors=errors, raw=raw)
    row = {f.contact_field: values[f.key] for f in public.fields
           if f.contact_field and f.key in values and values[f.key] not in ("", None, [])}
    if row:
        _, problems = contacts.prepare_rows([row], contact_catalogue())
        if problems:
            # The contact would refuse a value (e.g. a phone number): say so next to the form field.
            by_contact_field = {f.contact_field: f.key for f in public.fields if f.contact_field}
            return Outcome(errors={by_contact_field.get(k, "__all__"): [m] for k, m in problems[0][1].items()},
                           raw=raw)
    store = intake.store()
    entry = store.put({"form_id": form.pk, "data": values, "contact_data": row if row.get("email") else {},
                       "created_at": timezone.now().isoformat(), "ip": visitor.ip,
                       "user_agent": visitor.user_agent[:300], "referrer": visitor.referrer[:500]})
    _ensure_job(PROCESS_KEY, "webforms.process", "Process form submissions")
    return Outcome(intake_key=f"{store.name}:{entry}", raw=raw)


_catalogue: tuple[Any, dict] | None = None


def contact_catalogue() -> dict:
    """The contact field catalogue, kept while the custom fields stay the same (checked with one
    plain statement: the ORM query and the definitions cost more than a small request)."""
    global _catalogue
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, alias, type, label, choices FROM {Field._meta.db_table} WHERE object = %s "
                       f"ORDER BY id", [Field.Object.CONTACT])
        version = cursor.fetchall()
    if _catalogue is None or _catalogue[0] != version:
        custom = list(Field.objects.filter(object=Field.Object.CONTACT).order_by("group", "order", "label"))
        _catalogue = (version, contacts.catalogue_by_key(custom))
    return _catalogue[1]


PROCESS_KEY = "webforms.process"
PROCESS_BATCH = 50
# A run stops after this long and hands over to a new job, so other jobs of the (single)
# database worker are not kept waiting behind a long stream of submissions.
PROCESS_BUDGET_SECONDS = 5.0


def _ensure_job(key: str, kind: str, label: str) -> None:
    """Enqueue ``kind`` unless one is active (one plain statement in the common case)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Job._meta.db_table} WHERE concurrency_key = %s AND status IN (%s, %s, %s)",
                       [key, *Job.ACTIVE])
        if cursor.fetchone():
            return
    jobs.enqueue(kind, {}, label=label)


def process(ctx, continued: bool = False) -> dict[str, int]:
    """The "webforms.process" job: received submissions, a batch per transaction, then the
    actions each in its own transaction; until nothing is left (or the time budget is spent)."""
    started = time.monotonic()
    done = {"submissions": 0, "actions": 0}
    while True:
        ctx.check_cancelled()
        count = _process_batch()
        done["submissions"] += count
        done["actions"] += _run_local_actions()
        if not count:
            return done
        ctx.progress(done["submissions"], None, f"{done['submissions']} submissions processed")
        if time.monotonic() - started > PROCESS_BUDGET_SECONDS:
            jobs.enqueue("webforms.process", {"continued": True}, label="Process form submissions (continued)")
            return done


def form_choices() -> list[tuple[str, str]]:
    """Every form as ``(id, name)``: what point rules and campaign steps may name."""
    return [(str(pk), name) for pk, name in Form.objects.order_by("name", "pk").values_list("pk", "name")]


def _process_batch() -> int:
    """One transaction for a batch of the intake: submissions stored, contacts upserted in bulk,
    timeline entries in bulk, counters, and the action runs to do. Returns how many entries."""
    store = intake.store()
    now = timezone.now()
    with writegate.writer(), transaction.atomic():
        entries = store.take(PROCESS_BATCH)
        if not entries:
            return 0
        keys = {pk: f"{store.name}:{pk}" for pk, _ in entries}
        done = set(Submission.objects.filter(intake_key__in=list(keys.values())).values_list("intake_key", flat=True))
        forms = {f.pk: f for f in Form.objects.filter(pk__in={p["form_id"] for _, p in entries})}
        # Entries already stored (a crash before they left the intake) or of a form since deleted are dropped.
        fresh = [(pk, p) for pk, p in entries if keys[pk] not in done and p["form_id"] in forms]
        rows = [p["contact_data"] for _, p in fresh if p["contact_data"].get("email")]
        ids = contacts.upsert_contacts(rows, skip_invalid=True).ids if rows else {}
        batch = [Submission(
            form=forms[p["form_id"]], data=p["data"], contact_data=p["contact_data"],
            contact_id=ids.get(normalize_email(str(p["contact_data"].get("email", "")))),
            created_at=datetime.fromisoformat(p["created_at"]), processed_at=now, intake_key=keys[pk],
            ip=p["ip"], user_agent=p["user_agent"], referrer=p["referrer"]) for pk, p in fresh]
        Submission.objects.bulk_create(batch)
        if any(s.pk is None for s in batch):  # databases that do not return ids
            stored = dict(Submission.objects.filter(intake_key__in=[s.intake_key for s in batch])
                          .values_list("intake_key", "pk"))
            for s in batch:
                s.pk = stored[s.intake_key]
        contacts.record_activities(contacts.ActivityInput(
            s.contact_id, "webforms.submitted", s.created_at, f"Submitted the form “{s.form.name}”",
            f"webforms.submitted:{s.pk}", {"form_id": s.form_id, "submission_id": s.pk,
                                           "url": f"/forms/{s.form_id}/submissions/{s.pk}/"},
            f"form:{s.form_id}") for s in batch if s.contact_id)
        events.announce_many(ContactEvent(
            key="webforms.submitted", contact_ids=(s.contact_id,), occurred_at=s.created_at,
            ref=f"webforms:submission:{s.pk}", data={"form_id": s.form_id, "submission_id": s.pk})
            for s in batch if s.contact_id)
        per_form: dict[int, int] = {}
        for s in batch:
            per_form[s.form_id] = per_form.get(s.form_id, 0) + 1
        if per_form:
            Form.objects.filter(pk__in=list(per_form)).update(submission_count=Case(
                *[When(pk=pk, then=F("submission_count") + n) for pk, n in per_form.items()],
                default=F("submission_count"), output_field=BigIntegerField()))
        actions: dict[int, list[FormAction]] = {}
        for action in FormAction.objects.filter(form_id__in=list(per_form)).order_by("order", "id"):
            actions.setdefault(action.form_id, []).append(action)
        runs = []
        for s in batch:
            runs += _plan_actions(s, actions.get(s.form_id, []))
        ActionRun.objects.bulk_create(runs)
        if store.name == "db":  # the same database: leaves the intake in the same transaction
            store.remove(list(keys))
    if store.name != "db":  # another file: only once stored (a crash in between is caught above)
        store.remove(list(keys))
    return len(entries)


def _plan_actions(submission: Submission, actions: list[FormAction]) -> list[ActionRun]:
    """The runs of a submission's actions, in order: those before the first action that calls
    out run in the processor; that one and the rest in a job of their own (order kept)."""
    runs = []
    in_job = False
    for action in actions:
        kind = registry.find(ActionType, action.key)
        in_job = in_job or bool(kind and kind.runs_in_job)
        runs.append(ActionRun(submission=submission, order=action.order, key=action.key,
                              label=kind.label if kind else action.key, config=action.config, in_job=in_job))
    if in_job:
        job = jobs.enqueue("webforms.actions", {"submission_id": submission.pk},
                           label=f"Actions of submission #{submission.pk} ({submission.form.name})")
        for run in runs:
            if run.in_job:
                run.job = job
    return runs


def _run_local_actions() -> int:
    """Run the pending actions that need no job: all the submissions' first actions together
    (``FormAction.run_batch``), then their second ones..., one transaction per group."""
    pending = list(ActionRun.objects.filter(status=ActionRun.Status.PENDING, in_job=False)
                   .select_related("submission__form", "submission__contact").order_by("submission_id", "order"))
    groups: dict[tuple, list[ActionRun]] = {}
    for run in pending:
        key = (run.submission.form_id, run.order, run.key, json.dumps(run.config, sort_keys=True))
        groups.setdefault(key, []).append(run)
    for key in sorted(groups, key=lambda k: (k[1], k[0])):  # every submission's action n before n + 1
        with writegate.writer(), transaction.atomic():
            _run_group(groups[key])
    return len(pending)


def _run_group(runs: list[ActionRun]) -> None:
    """One action (same form, same config) for many submissions, through ``run_batch``."""
    kind = registry.find(ActionType, runs[0].key)
    ready = [r for r in runs if kind is not None and not (kind.needs_contact and r.submission.contact is None)]
    results = None
    if ready:
        try:
            config = kind.config_schema.model_validate(runs[0].config)
            with transaction.atomic():
                results = kind.run_batch([(r.submission, r.submission.contact) for r in ready], config)
            if len(results) != len(ready):
                raise LiaisonError(f"{kind.key} returned {len(results)} results for {len(ready)} submissions")
        except Exception:  # noqa: BLE001 - then each on its own, so one bad item fails alone
            logger.warning("form action %s failed as a batch; running each submission alone", runs[0].key,
                           exc_info=True)
            results = None
    now = timezone.now()
    outcome = dict(zip([r.pk for r in ready], results or [], strict=False))
    failed = []
    for run in runs:
        if run.pk in outcome:
            result = outcome[run.pk]
            run.status = ActionRun.Status.SUCCEEDED if result.ok else ActionRun.Status.FAILED
            run.message, run.data, run.finished_at = result.message, result.data, now
        else:
            _run_one(run, run.submission, run.submission.contact, final=True, record=False)
        if run.status == ActionRun.Status.FAILED and run.submission.contact_id:
            failed.append(run)
    ActionRun.objects.bulk_update(runs, ["status", "message", "data", "finished_at"])
    _record_outcomes(failed)


def _record_outcomes(runs: list[ActionRun]) -> None:
    """Action outcomes on the contacts' timelines (those that called out, and failures)."""
    contacts.record_activities(contacts.ActivityInput(
        run.submission.contact_id, "webforms.action", run.finished_at or timezone.now(),
        f"{run.label}: {'done' if run.status == ActionRun.Status.SUCCEEDED else run.get_status_display().lower()}",
        f"webforms.action:{run.submission_id}:{run.order}:{run.status}",
        {"summary": run.message, "form_id": run.submission.form_id, "submission_id": run.submission_id,
         "url": f"/forms/{run.submission.form_id}/submissions/{run.submission_id}/"},
        f"form:{run.submission.form_id}") for run in runs)


def _run_one(run: ActionRun, submission: Submission, contact: Contact | None, final: bool,
             record: bool = True) -> None:
    """Run one action; its outcome lands on the run (and the timeline when it calls out or fails).

    Retryable failures propagate unless ``final`` (the job retries them with back-off).
    """
    kind = registry.find(ActionType, run.key)
    result = None
    if kind is None:
        run.status, run.message = ActionRun.Status.FAILED, \
            f"The action “{run.key}” is unavailable (its integration may be disabled or removed)."
    elif kind.needs_contact and contact is None:
        run.status, run.message = ActionRun.Status.SKIPPED, "No contact: the form has no e-mail address field."
    else:
        try:
            config = kind.config_schema.model_validate(run.config)
            with transaction.atomic():
                result = kind.run(submission, contact, config)
        except RetryableError as exc:
            if not final:
                run.status, run.message = ActionRun.Status.RETRYING, str(exc)
                run.save(update_fields=["status", "message"])
                raise
            run.status, run.message = ActionRun.Status.FAILED, f"{exc} (gave up after several attempts)"
        except (LiaisonError, ValueError) as exc:
            run.status, run.message = ActionRun.Status.FAILED, str(exc) or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - an action's bug must not lose the submission
            logger.exception("form action %s failed on submission %s", run.key, submission.pk)
            run.status, run.message = ActionRun.Status.FAILED, f"Internal error in the action ({type(exc).__name__})."
        else:
            run.status = ActionRun.Status.SUCCEEDED if result.ok else ActionRun.Status.FAILED
            run.message, run.data = result.message, result.data
    run.finished_at = timezone.now()
    if record and contact is not None and (run.in_job or run.status == ActionRun.Status.FAILED):
        _record_outcomes([run])


def run_actions(ctx, submission_id: int) -> dict[str, Any]:
    """The "webforms.actions" job: the submission's queued actions, in order."""
    submission = Submission.objects.select_related("form", "contact").filter(pk=submission_id).first()
    if submission is None:
        return {"skipped": "The submission was deleted."}
    done = {}
    final = ctx.attempt >= ctx.job.max_attempts
    for run in submission.action_runs.filter(status__in=[ActionRun.Status.PENDING, ActionRun.Status.RETRYING]):
        ctx.check_cancelled()
        _run_one(run, submission, submission.contact, final=final)
        run.save(update_fields=["status", "message", "data", "finished_at"])
        ctx.log(f"{run.label}: {run.get_status_display()} {run.message}")
        done[run.label] = run.status
    return done


# -- views, statistics, export ------------------------------------------------------------------

_views: dict[tuple[int, date], int] = {}
_views_lock = threading.Lock()
_last_flush = time.monotonic()
VIEW_FLUSH_SECONDS = 5.0


def count_view(form: Form) -> None:
    """Count a view in memory; written in one batch every few seconds (a view is not worth a
    write transaction of its own; a crash loses at most those seconds' views)."""
    key = (form.pk, timezone.localdate())
    with _views_lock:
        _views[key] = _views.get(key, 0) + 1
        due = time.monotonic() - _last_flush >= VIEW_FLUSH_SECONDS
    if due:
        flush_views()


def flush_views(quiet: bool = False) -> int:
    with _views_lock:
        pending = dict(_views)
        _views.clear()
        _last_flush = time.monotonic()
    if not pending:
        return 0
    per_form: dict[int, int] = {}
    for (form_id, _), n in pending.items():
        per_form[form_id] = per_form.get(form_id, 0) + n
    table = FormDayStat._meta.db_table
    try:
        with transaction.atomic():
            existing = set(Form.objects.filter(pk__in=list(per_form)).values_list("pk", flat=True))
            rows = [(form_id, day, n) for (form_id, day), n in pending.items() if form_id in existing]
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} (form_id, day, views) VALUES (%s, %s, %s) "
                    f"ON CONFLICT (form_id, day) DO UPDATE SET views = {table}.views + excluded.views", rows)
            Form.objects.filter(pk__in=existing).update(views=Case(
                *[When(pk=form_id, then=F("views") + n) for form_id, n in per_form.items() if form_id in existing],
                default=F("views"), output_field=BigIntegerField()))
    except Exception:  # noqa: BLE001 - views are statistics: never fail a visitor's page for them
        if not quiet:
            logger.warning("could not write %s form views", sum(pending.values()), exc_info=True)
        return 0
    return sum(pending.values())


@atexit.register
def _flush_at_exit() -> None:
    """Write the last views when the process stops (quietly: at exit, logs may be closed)."""
    with _views_lock:
        if not _views:
            return
    flush_views(quiet=True)


def stats(form: Form, days: int = 30) -> dict[str, Any]:
    flush_views()
    form.refresh_from_db(fields=["views", "submission_count"])
    since = timezone.localdate() - timedelta(days=days - 1)
    views = dict(FormDayStat.objects.filter(form=form, day__gte=since).values_list("day", "views"))
    submitted = dict(Submission.objects.filter(form=form, created_at__date__gte=since).annotate(
        day=TruncDate("created_at")).values("day").annotate(n=Count("id")).values_list("day", "n"))
    rows = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        v, s = views.get(day, 0), submitted.get(day, 0)
        rows.append({"day": day, "views": v, "submissions": s,
                     "conversion": round(100.0 * s / v, 1) if v else None})
    return {"views": form.views, "submissions": form.submission_count, "conversion": form.conversion,
            "days": rows}


class _Echo:
    def write(self, value: str) -> str:
        return value


def submissions_csv(form: Form, qs=None) -> Iterator[str]:
    """The submissions as CSV lines (streamed): one column per field, labels as headers."""
    fields = list(form.fields.all())
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(["submission", "submitted_at", "contact_id", "contact_email",
                                      *[f.label for f in fields], "ip", "referrer"])
    qs = qs if qs is not None else form.submissions.all()
    for s in qs.select_related("contact").order_by("-created_at", "-id").iterator(chunk_size=2000):
        data = s.data or {}
        yield writer.writerow([
            s.pk, timezone.localtime(s.created_at).isoformat(timespec="seconds"), s.contact_id or "",
            s.contact.email if s.contact else "",
            *["|".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
              for v in (data.get(f.key, "") for f in fields)],
            s.ip or "", s.referrer])


def embed_snippets(form: Form, base_url: str) -> dict[str, str]:
    url = f"{base_url}/f/{form.slug}/"
    return {
        "url": url,
        "iframe": f'<iframe src="{url}?embed=1" title="{form.public_title}" loading="lazy" '
                  f'style="width:100%;min-height:420px;border:0"></iframe>',
        "script": f'<script src="{url}embed.js" async></script>',
    }
