"""Contacts services: bulk upsert by e-mail, the timeline, companies and custom fields.

Every write here is set-based: one SELECT per chunk to read what exists, one
INSERT ... ON CONFLICT per chunk to write. No query per row.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, QuerySet, Subquery
from django.dispatch import Signal
from django.utils import timezone

from liaison.contacts.fields import (
    COLUMN_FIELDS,
    CUSTOM_PREFIX,
    STANDARD_BY_KEY,
    FieldDef,
    catalogue_by_key,
    coerce,
    custom_field_defs,
    is_empty,
)
from liaison.contacts.models import Activity, Company, Contact, Field, normalize_email, normalize_name
from liaison.core.bulk import select_rows, upsert_rows
from liaison.core.contributions import TimelineKind
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry

logger = logging.getLogger(__name__)

# Sent after commit with the ids of contacts created or changed through these
# services, so segments (and others) can re-evaluate them in batches: once per
# transaction, however many services it called (see announce_changed).
contacts_changed = Signal()


class _ChangedBatch:
    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.sent = False

    def flush(self) -> None:
        self.sent = True
        contacts_changed.send(sender=Contact, contact_ids=sorted(self.ids))


def announce_changed(contact_ids: Iterable[int]) -> None:
    """Send ``contacts_changed`` for these contacts after the transaction commits.

    Within one transaction the ids of every call are sent together, once. (A savepoint
    rolled back takes its on-commit callback with it: a new batch is started then.)
    """
    ids = [int(i) for i in contact_ids]
    if not ids:
        return
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        contacts_changed.send(sender=Contact, contact_ids=sorted(set(ids)))
        return
    batch = getattr(conn, "_liaison_changed_batch", None)
    if batch is None or batch.sent or not any(item[1] == batch.flush for item in conn.run_on_commit):
        batch = _ChangedBatch()
        conn._liaison_changed_batch = batch
        transaction.on_commit(batch.flush)
    batch.ids.update(ids)

CHUNK = 1000
OVERWRITE = "overwrite"
FILL = "fill"
POLICIES = (OVERWRITE, FILL)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # e-mail key -> contact id, for every valid input row
    ids: dict[str, int] = field(default_factory=dict)
    created_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    # (input index, {field key: message}) for rows refused (only with skip_invalid=True)
    errors: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": len(self.errors)}


@dataclass
class _Row:
    index: int
    email: str
    key: str
    columns: dict[str, Any]
    custom: dict[str, Any]
    company: str | None
    owner_id: int | None


class _OwnerLookup:
    """Resolves owners by id, username or e-mail with one query for the whole batch."""

    def __init__(self, values: Iterable[Any]):
        wanted = {str(v).strip().lower() for v in values if not is_empty(v)}
        self.map: dict[str, int] = {}
        if wanted:
            User = get_user_model()
            ids = [int(v) for v in wanted if v.isdigit()]
            for pk, username, email in User.objects.filter(
                Q(username__in=wanted) | Q(email__in=wanted) | Q(pk__in=ids)
            ).values_list("pk", "username", "email"):
                self.map[str(pk)] = pk
                self.map[username.lower()] = pk
                if email:
                    self.map[email.lower()] = pk

    def resolve(self, value) -> int | None:
        key = str(value).strip().lower()
        if key not in self.map:
            raise ValueError(f"no user is called {value!r}")
        return self.map[key]


def _items(row: Mapping[str, Any]):
    """(key, value) pairs of a row, accepting {"custom": {"alias": v}} and {"custom.alias": v}."""
    for key, value in row.items():
        if key == "custom":
            for alias, custom_value in (value or {}).items():
                yield CUSTOM_PREFIX + alias, custom_value
        else:
            yield key, value


def describe_problems(problems: Mapping[str, str]) -> str:
    """One sentence for a row's problems, e.g. for an import report."""
    return " ".join(message for message in problems.values())


def prepare_rows(
    rows: Iterable[Mapping[str, Any]], catalogue: dict[str, FieldDef] | None = None
) -> tuple[list[_Row], list[tuple[int, dict[str, str]]]]:
    """Validate and coerce input rows. Returns (rows, [(index, {field: message})])."""
    catalogue = catalogue or catalogue_by_key()
    rows = rows if isinstance(rows, list) else list(rows)
    owners = _OwnerLookup(r.get("owner") for r in rows)
    email_field = STANDARD_BY_KEY["email"]
    prepared: list[_Row] = []
    errors: list[tuple[int, dict[str, str]]] = []
    for index, row in enumerate(rows):
        problems: dict[str, str] = {}
        email = str(row.get("email") or "").strip()
        if not email:
            problems["email"] = "E-mail is missing."
        else:
            try:
                email = coerce(email_field, email)
            except ValueError as exc:
                problems["email"] = f"E-mail: {exc}."
        columns: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        company = None
        owner_id = None
        for key, raw in _items(row):
            if key == "email":
                continue
            definition = catalogue.get(key)
            if definition is None:
                problems[key] = f"{key}: there is no such field."
                continue
            if definition.type == "text" and type(raw) is str and key != "owner":
                # The common case, inlined: imports and syncs send mostly plain text.
                value = raw.strip() or None
                if value is not None and definition.max_length and len(value) > definition.max_length:
                    problems[key] = f"{definition.label}: is longer than {definition.max_length} characters."
                    continue
            else:
                try:
                    if key == "owner":
                        owner_id = None if is_empty(raw) else owners.resolve(raw)
                        continue
                    value = coerce(definition, raw)
                except ValueError as exc:
                    problems[key] = f"{definition.label}: {exc}."
                    continue
            if value is None:
                continue  # an empty input never blanks a stored value
            if definition.custom:
                custom[definition.alias] = value
            elif key == "company":
                company = value
            else:
                columns[key] = value
        if problems:
            errors.append((index, problems))
            continue
        prepared.append(_Row(index, email, normalize_email(email), columns, custom, company, owner_id))
    return prepared, errors


def _merge_duplicates(rows: list[_Row]) -> list[_Row]:
    """Rows for the same e-mail in one batch become one row (later values win)."""
    by_key: dict[str, _Row] = {}
    for row in rows:
        seen = by_key.get(row.key)
        if seen is None:
            by_key[row.key] = row
            continue
        seen.columns.update(row.columns)
        seen.custom.update(row.custom)
        seen.company = row.company or seen.company
        seen.owner_id = row.owner_id or seen.owner_id
        seen.email = row.email
    return list(by_key.values())


def ensure_companies(names: Iterable[str]) -> dict[str, int]:
    """Company ids by normalized name, creating the missing ones in bulk."""
    wanted: dict[str, str] = {}
    for name in names:
        if name and name.strip():
            wanted.setdefault(normalize_name(name), " ".join(name.split())[:255])
    result: dict[str, int] = {}
    keys = list(wanted)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        existing = dict(Company.objects.filter(name_key__in=chunk).values_list("name_key", "pk"))
        missing = [k for k in chunk if k not in existing]
        if missing:
            now = timezone.now()
            Company.objects.bulk_create(
                [Company(name=wanted[k], name_key=k, created_at=now, updated_at=now) for k in missing],
                ignore_conflicts=True,
            )
            existing.update(Company.objects.filter(name_key__in=missing).values_list("name_key", "pk"))
        result.update(existing)
    return result


# Columns an upsert writes; on conflict everything but the identity and history is updated.
_UPDATED = (*COLUMN_FIELDS, "points", "do_not_contact", "dnc_at", "company_id", "owner_id", "custom", "email",
            "updated_at")
_INSERTED = (*_UPDATED, "email_key", "created_at")
_SELECTED = ("id", "email_key", *(c for c in _UPDATED if c != "updated_at"))


def _apply(existing: dict[str, Any], row: _Row, company_id: int | None, policy: Mapping[str, str],
           default_policy: str, now: datetime) -> dict[str, Any]:
    """The values a row leaves on an existing contact, following each field's policy."""
    values = dict(existing)
    values["custom"] = dict(existing.get("custom") or {})
    if default_policy == OVERWRITE and not policy:  # the common case, without a check per field
        values.update(row.columns)
        values["custom"].update(row.custom)
    else:
        for key, value in row.columns.items():
            if policy.get(key, default_policy) == OVERWRITE or is_empty(values.get(key)):
                values[key] = value
        for alias, value in row.custom.items():
            if policy.get(CUSTOM_PREFIX + alias, default_policy) == OVERWRITE or is_empty(values["custom"].get(alias)):
                values["custom"][alias] = value

    def allowed(key: str, current) -> bool:
        return policy.get(key, default_policy) == OVERWRITE or is_empty(current)

    if company_id is not None and allowed("company", values.get("company_id")):
        values["company_id"] = company_id
    if row.owner_id is not None and allowed("owner", values.get("owner_id")):
        values["owner_id"] = row.owner_id
    if values.get("do_not_contact") and not existing.get("do_not_contact"):
        values["dnc_at"] = now
    elif not values.get("do_not_contact"):
        values["dnc_at"] = None
        values["dnc_reason"] = ""
    return values


def _defaults(row: _Row, owner_id: int | None, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(COLUMN_FIELDS, "")
    values.update(points=0, do_not_contact=False, dnc_at=None, company_id=None, owner_id=owner_id, custom={},
                  email=row.email)
    return values


def upsert_contacts(
    rows: Iterable[Mapping[str, Any]],
    *,
    policy: Mapping[str, str] | None = None,
    default_policy: str = OVERWRITE,
    owner=None,
    skip_invalid: bool = False,
) -> UpsertResult:
    """Create or update contacts by e-mail, in bulk.

    ``policy`` maps a field key to "overwrite" or "fill" (write only if empty);
    unlisted fields follow ``default_policy``. Empty input values never blank a
    stored value. Invalid rows raise ``ValidationFailed`` (nothing is written; errors are
    keyed by field for a single row, ``rows[i].field`` otherwise), or with ``skip_invalid``
    are reported in ``result.errors`` while the others are written.
    ``owner`` becomes the owner of contacts this call creates (unless a row names one).
    """
    policy = dict(policy or {})
    bad_policy = {k: v for k, v in policy.items() if v not in POLICIES}
    if default_policy not in POLICIES or bad_policy:
        raise ValidationFailed({"policy": [f"Use 'overwrite' or 'fill', not {bad_policy or default_policy}."]})
    custom_fields = list(Field.objects.filter(object=Field.Object.CONTACT).order_by("group", "order", "label"))
    defaults_custom = {f.alias: f.default for f in custom_fields if not is_empty(f.default)}
    rows = list(rows)
    prepared, errors = prepare_rows(rows, catalogue_by_key(custom_fields))
    result = UpsertResult(errors=errors)
    if errors and not skip_invalid:
        if len(rows) == 1:
            raise ValidationFailed({key: [message] for key, message in errors[0][1].items()})
        raise ValidationFailed({f"rows[{i}].{key}": [message] for i, problems in errors
                                for key, message in problems.items()})
    merged = _merge_duplicates(prepared)
    owner_id = getattr(owner, "pk", owner)
    now = timezone.now()
    with transaction.atomic():
        companies = ensure_companies(r.company for r in merged if r.company)
        for start in range(0, len(merged), CHUNK):
            _upsert_chunk(merged[start:start + CHUNK], companies, policy, default_policy, owner_id,
                          defaults_custom, now, result)
        changed = result.created_ids + result.updated_ids
        if changed:
            announce_changed(changed)
    return result


def _upsert_chunk(chunk: list[_Row], companies: dict[str, int], policy, default_policy, owner_id,
                  defaults_custom, now, result: UpsertResult) -> None:
    existing = {}
    for values in select_rows(Contact, _SELECTED, "email_key", [r.key for r in chunk]):
        current = dict(zip(_SELECTED, values, strict=True))
        existing[current.pop("email_key")] = current
    writes: list[tuple] = []
    new_keys: list[str] = []
    for row in chunk:
        company_id = companies.get(normalize_name(row.company)) if row.company else None
        current = existing.get(row.key)
        if current is None:
            base = _defaults(row, row.owner_id or owner_id, now)
            base["custom"] = dict(defaults_custom)
            values = _apply(base, row, company_id, {}, OVERWRITE, now)
            new_keys.append(row.key)
        else:
            pk = current.pop("id")
            values = _apply(current, row, company_id, policy, default_policy, now)
            result.ids[row.key] = pk
            if values == current:
                result.unchanged += 1
                continue
            result.updated += 1
            result.updated_ids.append(pk)
        values["updated_at"] = now
        writes.append((*(values[c] for c in _UPDATED), row.key, now))
    if not writes:
        return
    upsert_rows(Contact, _INSERTED, writes, conflict=["email_key"], update=_UPDATED)
    if new_keys:  # updated rows kept their ids; only the new ones need reading back
        for key, pk in select_rows(Contact, ("email_key", "id"), "email_key", new_keys):
            result.ids[key] = pk
            result.created_ids.append(pk)
        result.created += len(new_keys)


# -- the timeline -------------------------------------------------------------------

@dataclass
class ActivityInput:
    contact_id: int
    kind: str
    occurred_at: datetime
    title: str
    dedup_key: str
    data: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def record_activities(items: Iterable[ActivityInput | Mapping[str, Any]]) -> int:
    """Write timeline entries in bulk; an entry whose ``dedup_key`` exists is skipped.

    Returns the number of entries written.
    """
    by_key: dict[str, ActivityInput] = {}
    known_kinds = set(registry.keys(TimelineKind))
    for item in items:
        if isinstance(item, Mapping):
            item = ActivityInput(**item)
        if item.kind not in known_kinds:
            raise ValueError(f"Timeline kind {item.kind!r} is not registered")
        if not item.dedup_key:
            raise ValueError("An activity needs a dedup_key")
        by_key.setdefault(item.dedup_key[:255], item)
    keys = list(by_key)
    written = 0
    touched: set[int] = set()
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            seen = set(Activity.objects.filter(dedup_key__in=chunk).values_list("dedup_key", flat=True))
            fresh = [by_key[k] for k in chunk if k not in seen]
            if not fresh:
                continue
            Activity.objects.bulk_create(
                [
                    Activity(contact_id=a.contact_id, kind=a.kind, occurred_at=a.occurred_at, title=a.title[:300],
                             data=a.data, source=a.source[:80], dedup_key=key, created_at=now)
                    for key, a in ((a.dedup_key[:255], a) for a in fresh)
                ],
                ignore_conflicts=True,
                batch_size=500,
            )
            written += len(fresh)
            touched.update(a.contact_id for a in fresh)
        _refresh_last_activity(touched)
        if touched:
            # last_activity_at changed, and segments filter on the timeline.
            ids = sorted(touched)
            announce_changed(ids)
    return written


def _refresh_last_activity(contact_ids: set[int]) -> None:
    ids = list(contact_ids)
    latest = Activity.objects.filter(contact_id=OuterRef("pk")).order_by().values("contact_id").annotate(
        m=Max("occurred_at")).values("m")
    for start in range(0, len(ids), CHUNK):
        Contact.objects.filter(pk__in=ids[start:start + CHUNK]).update(last_activity_at=Subquery(latest))


def timeline(contact: Contact, kinds: Iterable[str] | None = None) -> QuerySet[Activity]:
    qs = Activity.objects.filter(contact=contact)
    kinds = [k for k in (kinds or []) if k]
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.order_by("-occurred_at", "-id")


def timeline_label(kind: str) -> str:
    found = registry.find(TimelineKind, kind)
    return found.label if found else kind


# -- single contacts ----------------------------------------------------------------

def save_contact(data: Mapping[str, Any], *, contact: Contact | None = None, user=None, source: str = "ui") -> Contact:
    """Create a contact, or change one, from a form or the API (validated, recorded)."""
    values = {k: v for k, v in data.items()}
    if contact is None:
        email_key = normalize_email(str(values.get("email") or ""))
        if email_key and Contact.objects.filter(email_key=email_key).exists():
            raise ValidationFailed({"email": ["A contact with this e-mail address already exists."]})
        result = upsert_contacts([values], owner=user if values.get("owner") in (None, "") else None)
        contact = Contact.objects.get(pk=next(iter(result.ids.values())))
        record_activities([ActivityInput(contact.pk, "contact.created", contact.created_at, "Contact created",
                                         f"contact.created:{contact.pk}", {"by": str(user or source)}, source)])
        return contact
    new_email = values.get("email")
    if new_email is not None and normalize_email(str(new_email)) != contact.email_key:
        key = normalize_email(str(new_email))
        if not key:
            raise ValidationFailed({"email": ["E-mail is required."]})
        if Contact.objects.filter(email_key=key).exclude(pk=contact.pk).exists():
            raise ValidationFailed({"email": ["Another contact already has this e-mail address."]})
        coerced = _coerce_one("email", new_email)
        Contact.objects.filter(pk=contact.pk).update(email=coerced, email_key=key)
        contact.email, contact.email_key = coerced, key
        announce_changed([contact.pk])
    values["email"] = contact.email
    was_dnc = contact.do_not_contact
    # Explicit edits may blank a value: apply blanks directly, the rest through upsert.
    blanks = [k for k, v in values.items() if is_empty(v) and k in COLUMN_FIELDS]
    custom_blanks = [k[len(CUSTOM_PREFIX):] for k, v in values.items() if is_empty(v) and k.startswith(CUSTOM_PREFIX)]
    upsert_contacts([values])
    contact.refresh_from_db()
    if blanks or custom_blanks or ("company" in values and is_empty(values["company"])):
        for key in blanks:
            setattr(contact, key, "")
        for alias in custom_blanks:
            contact.custom.pop(alias, None)
        if "company" in values and is_empty(values["company"]):
            contact.company = None
        contact.save()
        announce_changed([contact.pk])
    if contact.do_not_contact != was_dnc:
        _record_dnc(contact, source)
    return contact


def _coerce_one(key: str, value):
    definition = catalogue_by_key().get(key)
    if definition is None:
        raise ValidationFailed({key: ["There is no such field."]})
    try:
        return coerce(definition, value)
    except ValueError as exc:
        raise ValidationFailed({key: [f"{definition.label} {exc}."]}) from None


def set_do_not_contact(contact: Contact, value: bool, reason: str = "", source: str = "ui") -> Contact:
    if contact.do_not_contact == value:
        return contact
    contact.do_not_contact = value
    contact.dnc_reason = reason[:255] if value else ""
    contact.dnc_at = timezone.now() if value else None
    contact.updated_at = timezone.now()
    contact.save(update_fields=["do_not_contact", "dnc_reason", "dnc_at", "updated_at"])
    _record_dnc(contact, source)
    announce_changed([contact.pk])
    return contact


def _record_dnc(contact: Contact, source: str) -> None:
    now = timezone.now()
    title = f"Do not contact: {contact.dnc_reason}" if contact.do_not_contact else "Do-not-contact cleared"
    if contact.do_not_contact and not contact.dnc_reason:
        title = "Do not contact"
    record_activities([ActivityInput(contact.pk, "contact.do_not_contact", now, title,
                                     f"contact.dnc:{contact.pk}:{uuid.uuid4().hex}",
                                     {"do_not_contact": contact.do_not_contact, "reason": contact.dnc_reason},
                                     source)])


def adjust_points(contact_ids: Iterable[int], delta: int, reason: str = "", source: str = "") -> int:
    """Add ``delta`` points (negative to take some) to contacts, in bulk, on their timelines.

    Returns how many contacts changed. (Point rules come later; this is the one way points
    change, so they all appear on the timeline.)
    """
    ids = sorted({int(i) for i in contact_ids})
    if not ids or not delta:
        return 0
    now = timezone.now()
    # Each call is its own change (callers make their own calls idempotent): a clock that
    # reads the same twice must not fold two changes into one timeline entry.
    call = uuid.uuid4().hex
    changed: list[int] = []
    title = f"{'+' if delta > 0 else '−'}{abs(delta)} point{'s' if abs(delta) != 1 else ''}" + (
        f": {reason}" if reason else "")
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = Contact.objects.filter(pk__in=ids[start:start + CHUNK])
            changed += list(chunk.values_list("pk", flat=True))
            chunk.update(points=F("points") + delta, updated_at=now)
        record_activities(ActivityInput(cid, "contact.points", now, title, f"contact.points:{cid}:{call}",
                                        {"delta": delta, "reason": reason}, source) for cid in changed)
        announce_changed(changed)
    return len(changed)


def add_note(contact: Contact, text: str, user=None) -> Activity:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed({"text": ["Write the note first."]})
    now = timezone.now()
    key = f"contact.note:{contact.pk}:{uuid.uuid4().hex}"
    record_activities([ActivityInput(contact.pk, "contact.note", now, text[:300], key,
                                     {"text": text, "by": str(user or "")}, "ui")])
    return Activity.objects.get(dedup_key=key)


def delete_contacts(ids: Iterable[int]) -> int:
    ids = list(ids)
    deleted = 0
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            qs = Contact.objects.filter(pk__in=ids[start:start + CHUNK])
            deleted += qs.count()
            qs.delete()
    return deleted


# -- lists and filters ----------------------------------------------------------------

SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "email": ("email_key",),
    "-email": ("-email_key",),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "points": ("points", "id"),
    "-points": ("-points", "-id"),
    "active": ("last_activity_at", "id"),
    "-active": ("-last_activity_at", "-id"),
}


def filter_contacts(params: Mapping[str, Any]) -> QuerySet[Contact]:
    """The contact list's filters, shared by the UI, the API and CSV export."""
    qs = Contact.objects.select_related("company", "owner")
    q = str(params.get("q") or "").strip()
    if q:
        if "@" in q:
            qs = qs.filter(email_key__startswith=q.lower())
        else:
            terms = q.split()
            for term in terms:
                qs = qs.filter(Q(first_name__icontains=term) | Q(last_name__icontains=term)
                               | Q(email_key__contains=term.lower()) | Q(company__name__icontains=term))
    if params.get("company"):
        qs = qs.filter(company_id=params["company"])
    if params.get("owner"):
        qs = qs.filter(owner_id=params["owner"])
    dnc = params.get("do_not_contact")
    if dnc in ("1", "true", True):
        qs = qs.filter(do_not_contact=True)
    elif dnc in ("0", "false", False):
        qs = qs.filter(do_not_contact=False)
    if params.get("points_min") not in (None, ""):
        qs = qs.filter(points__gte=int(params["points_min"]))
    if params.get("created_after"):
        qs = qs.filter(created_at__date__gte=params["created_after"])
    if params.get("created_before"):
        qs = qs.filter(created_at__date__lte=params["created_before"])
    if params.get("ids"):
        qs = qs.filter(pk__in=[int(i) for i in str(params["ids"]).split(",") if i.strip().isdigit()])
    for hook in contact_list_filters:
        qs = hook(qs, params)
    sort = str(params.get("sort") or "-created")
    return qs.order_by(*SORTS.get(sort, SORTS["-created"]))


# Other apps may add list filters (e.g. segments: ?segment=ID) by appending a
# callable (queryset, params) -> queryset here from their AppConfig.ready().
contact_list_filters: list = []


# -- custom fields ------------------------------------------------------------------

def save_field(data: Mapping[str, Any], *, field_obj: Field | None = None) -> Field:
    errors: dict[str, list[str]] = {}
    alias = str(data.get("alias") or (field_obj.alias if field_obj else "")).strip().lower()
    label = str(data.get("label") or (field_obj.label if field_obj else "")).strip()
    object_ = data.get("object") or (field_obj.object if field_obj else Field.Object.CONTACT)
    type_ = data.get("type") or (field_obj.type if field_obj else Field.Type.TEXT)
    if not label:
        errors.setdefault("label", []).append("A label is required.")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", alias or ""):
        errors.setdefault("alias", []).append(
            "Use lower-case letters, digits and underscores, starting with a letter.")
    if object_ not in Field.Object.values:
        errors.setdefault("object", []).append("Choose contact or company.")
    if type_ not in Field.Type.values:
        errors.setdefault("type", []).append("Choose one of the field types.")
    if object_ == Field.Object.CONTACT and alias in STANDARD_BY_KEY:
        errors.setdefault("alias", []).append("This alias is a standard contact field.")
    clash = Field.objects.filter(object=object_, alias=alias)
    if field_obj is not None:
        clash = clash.exclude(pk=field_obj.pk)
        if field_obj.alias != alias:
            errors.setdefault("alias", []).append(
                "The alias cannot change: stored values, segments and tokens refer to it.")
        if field_obj.type != type_:
            errors.setdefault("type", []).append("The type cannot change once values may be stored.")
    if clash.exists():
        errors.setdefault("alias", []).append("Another field already uses this alias.")
    choices = data.get("choices", field_obj.choices if field_obj else [])
    if isinstance(choices, str):
        choices = [{"value": c.strip(), "label": c.strip()} for c in choices.splitlines() if c.strip()]
    if type_ in (Field.Type.SELECT, Field.Type.MULTISELECT) and not choices:
        errors.setdefault("choices", []).append("A select field needs at least one choice.")
    default = data.get("default", field_obj.default if field_obj else None)
    if not errors and not is_empty(default):
        definition = FieldDef(CUSTOM_PREFIX + alias, label, type_, custom=True,
                              choices=tuple(str(c.get("value")) for c in choices or []))
        try:
            default = coerce(definition, default)
        except ValueError as exc:
            errors.setdefault("default", []).append(f"The default {exc}.")
    if errors:
        raise ValidationFailed(errors)
    field_obj = field_obj or Field(alias=alias, object=object_, type=type_)
    field_obj.label = label[:150]
    field_obj.group = str(data.get("group") or field_obj.group or "core")[:64]
    field_obj.order = int(data.get("order") or field_obj.order or 0)
    field_obj.choices = choices or []
    field_obj.default = None if is_empty(default) else default
    field_obj.save()
    return field_obj


def field_usage(field_obj: Field) -> int:
    """How many records hold a value for this custom field."""
    model = Contact if field_obj.object == Field.Object.CONTACT else Company
    return model.objects.filter(custom__has_key=field_obj.alias).count()


def delete_field(field_obj: Field) -> int:
    """Delete a field definition and its stored values. Returns how many records lost a value."""
    model = Contact if field_obj.object == Field.Object.CONTACT else Company
    affected = 0
    with transaction.atomic():
        ids = list(model.objects.filter(custom__has_key=field_obj.alias).values_list("pk", flat=True))
        for start in range(0, len(ids), CHUNK):
            batch = list(model.objects.filter(pk__in=ids[start:start + CHUNK]).only("pk", "custom"))
            for obj in batch:
                obj.custom.pop(field_obj.alias, None)
            model.objects.bulk_update(batch, ["custom"])
            affected += len(batch)
        field_obj.delete()
    return affected


def company_custom_defs() -> list[FieldDef]:
    return custom_field_defs(Field.Object.COMPANY)


def save_company(data: Mapping[str, Any], *, company: Company | None = None) -> Company:
    errors: dict[str, list[str]] = {}
    name = " ".join(str(data.get("name") or (company.name if company else "")).split())
    if not name:
        errors["name"] = ["A company needs a name."]
    elif Company.objects.filter(name_key=normalize_name(name)).exclude(pk=getattr(company, "pk", None)).exists():
        errors["name"] = ["Another company already has this name."]
    company = company or Company()
    simple = {"website": "url", "email": "email", "phone": "phone", "address1": "text", "address2": "text",
              "city": "text", "state": "text", "postcode": "text", "country": "text", "industry": "text"}
    for key, kind in simple.items():
        if key not in data:
            continue
        model_field = Company._meta.get_field(key)
        try:
            value = coerce(FieldDef(key, key, kind, getattr(model_field, "max_length", None)), data[key])
        except ValueError as exc:
            errors.setdefault(key, []).append(f"{model_field.verbose_name.capitalize()} {exc}.")
            continue
        setattr(company, key, value or "")
    if "employees" in data:
        try:
            value = coerce(FieldDef("employees", "employees", "number", whole_between=(0, 2_000_000_000)),
                           data["employees"])
            company.employees = value
        except ValueError as exc:
            errors.setdefault("employees", []).append(f"Employees {exc}.")
    custom_defs = {d.alias: d for d in company_custom_defs()}
    for alias, raw in (data.get("custom") or {}).items():
        definition = custom_defs.get(alias)
        if definition is None:
            errors.setdefault(f"custom.{alias}", []).append("There is no such company field.")
            continue
        try:
            value = coerce(definition, raw)
        except ValueError as exc:
            errors.setdefault(f"custom.{alias}", []).append(f"{definition.label} {exc}.")
            continue
        if value is None:
            company.custom.pop(alias, None)
        else:
            company.custom[alias] = value
    if "owner" in data:
        company.owner_id = data["owner"] or None
    if errors:
        raise ValidationFailed(errors)
    company.name = name
    company.save()
    return company
