"""Segments services: saving, rebuilding, re-evaluating changed contacts, static members.

Membership is materialized in ``Membership``. A rebuild is set-based SQL in one
transaction per segment: one DELETE of the leavers, one INSERT ... SELECT of the
missing. Contacts changed through the contacts services are queued and re-evaluated
against every segment in batches, a few queries per batch whatever the number of
segments.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest, Lower
from django.utils import timezone

from liaison.contacts import services as contacts
from liaison.contacts.models import Contact, normalize_email
from liaison.core import jobs, schedules, writegate
from liaison.core.bulk import insert_rows
from liaison.core.contributions import SegmentFilter
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.models import Job, Schedule
from liaison.segments import filters as engine
from liaison.segments.models import Membership, PendingContact, Segment, StaticMember

logger = logging.getLogger(__name__)

CHUNK = 1000
REEVALUATE_BATCH = 500
REEVALUATE_KEY = "segments.reevaluate"
QUEUE_BATCH = 2000


# -- saving -----------------------------------------------------------------------------------

def save_segment(data: Mapping[str, Any], *, segment: Segment | None = None, user=None) -> Segment:
    """Create or change a segment (name, description, filters); queues a rebuild when the
    filters change. Refuses bad input with ``ValidationFailed`` and changes nothing."""
    errors: dict[str, list[str]] = {}
    name = " ".join(str(data.get("name", segment.name if segment else "") or "").split())
    if not name:
        errors["name"] = ["A segment needs a name."]
    elif len(name) > 200:
        errors["name"] = ["Use at most 200 characters."]
    elif Segment.objects.filter(name__iexact=name).exclude(pk=getattr(segment, "pk", None)).exists():
        errors["name"] = ["Another segment already has this name."]
    description = str(data.get("description", segment.description if segment else "") or "")
    if len(description) > 5000:
        errors["description"] = ["Use at most 5,000 characters."]
    filters = engine.catalogue()
    tree = segment.filters if segment else {"match": "all", "rules": []}
    if "filters" in data:
        tree, tree_errors = engine.clean_tree(data["filters"], filters, stored=segment.filters if segment else None)
        errors.update(tree_errors)
        if not tree_errors:
            cycle = _cycle(segment, tree, filters)
            if cycle:
                errors.setdefault("filters", []).append(cycle)
    if errors:
        raise ValidationFailed(errors)
    changed = segment is None or tree != segment.filters
    if segment is None:
        ensure_schedules()
    segment = segment or Segment(created_by=user if getattr(user, "is_authenticated", False) else None)
    segment.name, segment.description, segment.filters = name, description, tree
    segment.updated_at = timezone.now()
    segment.save()
    if changed:
        request_rebuild(segment, user=user)
    return segment


# Re-evaluation is prompt (a job per burst of changes); these schedules catch what time
# alone changes ("in the last 7 days") and anything a crash left in the queue. Created
# with the first segment, like an integration's sync schedule; users may change them.
DEFAULT_SCHEDULES = (
    ("Segments: rebuild all", "segments.rebuild", "30 3 * * *"),
    ("Segments: re-evaluate changed contacts", "segments.reevaluate", "*/10 * * * *"),
)


def ensure_schedules() -> None:
    for name, kind, cron in DEFAULT_SCHEDULES:
        if not Schedule.objects.filter(name=name).exists():
            schedules.upsert_schedule(name, kind, cron, owner_key="segments")


def _cycle(segment: Segment | None, tree: dict, filters) -> str:
    """A sentence when this tree makes the segment depend on itself (through other segments)."""
    if segment is None:
        return ""
    graph = {s.pk: engine.referenced_segments(s.filters, filters) for s in Segment.objects.exclude(pk=segment.pk)}
    graph[segment.pk] = engine.referenced_segments(tree, filters)
    seen: set[int] = set()
    stack = list(graph[segment.pk])
    while stack:
        current = stack.pop()
        if current == segment.pk:
            return "These filters would make the segment depend on itself (through “Member of segment”)."
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, ()))
    return ""


def users_of(segment: Segment) -> list[Segment]:
    """The other segments whose filters name this one."""
    filters = engine.catalogue()
    return [s for s in Segment.objects.exclude(pk=segment.pk) if segment.pk in engine.referenced_segments(
        s.filters, filters)]


def delete_segment(segment: Segment) -> None:
    users = users_of(segment)
    if users:
        names = ", ".join(f"“{s.name}”" for s in users)
        raise LiaisonError(f"“{segment.name}” is used by the filters of {names}; change those first.")
    segment.delete()


# -- what a segment wants ----------------------------------------------------------------------

def _static(segment_id: int, included: bool) -> Exists:
    return Exists(StaticMember.objects.filter(segment_id=segment_id, contact_id=OuterRef("pk"), included=included))


def wanted_q(segment: Segment, filters: Mapping[str, SegmentFilter], has_static: bool | None = None) -> Q:
    """Who should be a member: (filters OR included) AND NOT excluded, as one condition.

    Raises ``engine.Unavailable`` when a filter cannot be used now.
    """
    q = engine.compile_tree(segment.filters, filters)
    if has_static is None:
        has_static = StaticMember.objects.filter(segment=segment).exists()
    if has_static:
        q = (q | Q(_static(segment.pk, True))) & ~Q(_static(segment.pk, False))
    return q


@dataclass
class RebuildResult:
    segment_id: int
    added: int = 0
    removed: int = 0
    members: int = 0
    skipped: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"segment": self.segment_id, "added": self.added, "removed": self.removed, "members": self.members,
                **({"skipped": self.skipped} if self.skipped else {})}


def rebuild_segment(segment: Segment, filters: Mapping[str, SegmentFilter] | None = None) -> RebuildResult:
    """Recompute one segment's membership in one transaction: DELETE the leavers, INSERT
    ... SELECT the missing. A segment with an unavailable filter keeps its members."""
    filters = filters if filters is not None else engine.catalogue()
    result = RebuildResult(segment.pk)
    try:
        has_static = StaticMember.objects.filter(segment=segment).exists()
        wanted = wanted_q(segment, filters, has_static)
    except engine.Unavailable as exc:
        Segment.objects.filter(pk=segment.pk).update(build_problem=exc.reason)
        result.skipped = exc.reason
        result.members = segment.member_count
        return result
    now = timezone.now()
    with transaction.atomic():
        members = Contact.objects.order_by().filter(wanted)
        # Leavers: members the condition no longer wants (an anti-join, one statement).
        leavers = Membership.objects.filter(segment=segment).exclude(
            Exists(members.filter(pk=OuterRef("contact_id"))))
        result.removed = leavers.delete()[0]
        # The missing: wanted contacts without a membership row, inserted by the database.
        source = Case(When(_static(segment.pk, True), then=Value(Membership.Source.STATIC)),
                      default=Value(Membership.Source.FILTER)) if has_static else Value(Membership.Source.FILTER)
        missing = members.exclude(Exists(Membership.objects.filter(segment=segment, contact_id=OuterRef("pk"))))
        result.added = _insert_select(missing.annotate(
            m_segment=Value(segment.pk), m_contact=F("pk"), m_source=source, m_added=Value(now)
        ).values_list("m_segment", "m_contact", "m_source", "m_added"))
        if has_static:
            _fix_sources(segment.pk)
        result.members = Membership.objects.filter(segment=segment).count()
        Segment.objects.filter(pk=segment.pk).update(member_count=result.members, built_at=now, build_problem="")
    return result


def _insert_select(select) -> int:
    """``INSERT INTO membership (...) SELECT ...`` from a queryset of four columns."""
    table = Membership._meta.db_table
    sql, params = select.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (segment_id, contact_id, source, added_at) {sql} "
                       f"ON CONFLICT (segment_id, contact_id) DO NOTHING", params)
        return max(cursor.rowcount, 0)


def _fix_sources(segment_id: int) -> None:
    """Membership.source follows the static entries (two indexed UPDATEs)."""
    included = StaticMember.objects.filter(segment_id=segment_id, included=True, contact_id=OuterRef("contact_id"))
    Membership.objects.filter(segment_id=segment_id, source=Membership.Source.FILTER).filter(
        Exists(included)).update(source=Membership.Source.STATIC)
    Membership.objects.filter(segment_id=segment_id, source=Membership.Source.STATIC).exclude(
        Exists(included)).update(source=Membership.Source.FILTER)


def build_order(segments: Iterable[Segment], filters) -> list[list[Segment]]:
    """Segments in levels: each level reads only the membership of earlier levels."""
    pending = {s.pk: s for s in segments}
    needs = {pk: engine.referenced_segments(s.filters, filters) & set(pending) for pk, s in pending.items()}
    levels: list[list[Segment]] = []
    done: set[int] = set()
    while pending:
        ready = [s for pk, s in pending.items() if needs[pk] <= done]
        if not ready:  # a cycle slipped in (saved before a check existed): finish in any order
            ready = list(pending.values())
        levels.append(sorted(ready, key=lambda s: s.pk))
        for s in ready:
            done.add(s.pk)
            pending.pop(s.pk)
    return levels


def rebuild(ctx, segment_id: int | None = None) -> dict[str, Any]:
    """The "segments.rebuild" job: one segment, or all in dependency order."""
    filters = engine.catalogue()
    if segment_id is not None:
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None:
            raise LiaisonError(f"Segment #{segment_id} no longer exists.")
        ordered = [segment]
    else:
        ordered = [s for level in build_order(Segment.objects.all(), filters) for s in level]
    results = []
    for index, segment in enumerate(ordered):
        ctx.check_cancelled()
        ctx.progress(index, len(ordered), f"Rebuilding “{segment.name}”", force=True)
        result = rebuild_segment(segment, filters)
        results.append(result.as_dict())
        if result.skipped:
            ctx.log(f"“{segment.name}” skipped: {result.skipped}")
        else:
            ctx.log(f"“{segment.name}”: {result.members} members (+{result.added} −{result.removed})")
    ctx.progress(len(ordered), len(ordered), "Done", force=True)
    return {"segments": results}


def request_rebuild(segment: Segment | None = None, user=None, dispatch_now: bool = True):
    """Queue a rebuild job (one segment, or all); an active one for the same target is reused."""
    params = {"segment_id": segment.pk} if segment else {}
    label = f"Rebuild segment “{segment.name}”" if segment else "Rebuild all segments"
    return jobs.enqueue("segments.rebuild", params, label=label, user=user, dispatch_now=dispatch_now)


# -- re-evaluating changed contacts ---------------------------------------------------------------

def queue_changed(sender=None, contact_ids: Iterable[int] = (), **kwargs) -> None:
    """Receiver of ``contacts_changed``: queue the contacts, make sure a job will read them."""
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    if not ids:
        return
    now = timezone.now()
    with writegate.writer(), transaction.atomic():
        insert_rows(PendingContact, ("contact_id", "queued_at"), ((i, now) for i in ids), chunk=CHUNK)
    # Queued after the rows: a job seen active here has not yet found the queue empty.
    # (The common case under load, checked with one plain statement.)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Job._meta.db_table} WHERE concurrency_key = %s AND status IN (%s, %s, %s)",
                       [REEVALUATE_KEY, *Job.ACTIVE])
        active = cursor.fetchone()
    if not active:
        jobs.enqueue("segments.reevaluate", {}, label="Re-evaluate changed contacts against the segments")


# A run stops after this long and hands over to a new job, so the (single) database worker
# also gets to its other jobs while contacts keep changing.
DRAIN_BUDGET_SECONDS = 5.0


def drain(ctx, continued: bool = False) -> dict[str, int]:
    """The "segments.reevaluate" job: read the queue in batches until it is empty."""
    totals = {"contacts": 0, "added": 0, "removed": 0}
    started = time.monotonic()
    while True:
        ctx.check_cancelled()
        batch = list(PendingContact.objects.order_by("pk").values_list("pk", "contact_id")[:QUEUE_BATCH])
        if not batch:
            break
        ids = {contact_id for _, contact_id in batch}
        changes = reevaluate(ids)
        # The rows read, by id: a row queued meanwhile stays for the next round.
        with writegate.writer():
            PendingContact.objects.filter(pk__in=[pk for pk, _ in batch]).delete()
        totals["contacts"] += len(ids)
        totals["added"] += changes.added
        totals["removed"] += changes.removed
        ctx.progress(totals["contacts"], None, f"{totals['contacts']} contacts re-evaluated")
        if time.monotonic() - started > DRAIN_BUDGET_SECONDS:
            jobs.enqueue("segments.reevaluate", {"continued": True}, label="Re-evaluate changed contacts (continued)")
            break
    return totals


@dataclass
class Changes:
    added: int = 0
    removed: int = 0
    # (segment id, contact id) pairs
    joined: list[tuple[int, int]] = field(default_factory=list)
    left: list[tuple[int, int]] = field(default_factory=list)


def reevaluate(contact_ids: Iterable[int], segments: Iterable[Segment] | None = None) -> Changes:
    """Bring these contacts' memberships up to date for every segment (or those given).

    Per dependency level and chunk of contacts: one SELECT computing every segment's
    condition as a column, one SELECT of the current memberships, and when something
    changed one INSERT, one DELETE and one UPDATE of the counts.
    """
    ids = sorted({int(i) for i in contact_ids})
    changes = Changes()
    if not ids:
        return changes
    filters = engine.catalogue()
    if segments is None:  # with whether each has static entries, in one query
        segments = list(Segment.objects.only("pk", "filters").annotate(has_static=Exists(
            StaticMember.objects.filter(segment=OuterRef("pk")))))
        static_ids = {s.pk for s in segments if s.has_static}
    else:
        segments = list(segments)
        static_ids = set(StaticMember.objects.filter(segment__in=segments).values_list("segment_id", flat=True)
                         .distinct())
    for level in build_order(segments, filters):
        compiled = _level_query(level, filters, static_ids)
        if compiled is None:
            continue
        for start in range(0, len(ids), REEVALUATE_BATCH):
            _reevaluate_chunk(ids[start:start + REEVALUATE_BATCH], compiled, changes)
    return changes


# The SELECT of a level depends only on the segments' filters, their static entries, the
# custom fields and the time (relative dates): compiling it is most of the cost of
# re-evaluating one contact, so it is kept for a minute ("in the last 7 days" may then be
# a minute late, well within a day's granularity).
COMPILED_TTL = 60.0
_IDS = "__liaison_contact_ids__"
_compiled: dict[tuple, tuple[float, Any]] = {}


@dataclass
class LevelQuery:
    segment_ids: list[int]
    sql: str
    params: list[Any]
    ids_at: int


def _for_ids() -> Q:
    """The contacts to evaluate, as ONE parameter (so the SQL text stays the same)."""
    table = Contact._meta.db_table
    if connection.vendor == "postgresql":  # an index lookup per id, whatever the planner guesses
        return Q(ExpressionWrapper(RawSQL(f'"{table}"."id" = ANY(%s::bigint[])', [_IDS]),
                                   output_field=BooleanField()))
    return Q(pk__in=RawSQL("SELECT value FROM json_each(%s)", [_IDS]))


def _level_query(level: list[Segment], filters, static_ids: set[int]) -> LevelQuery | None:
    key = (connection.vendor, tuple(sorted(k for k in filters)),
           tuple((s.pk, json.dumps(s.filters, sort_keys=True), s.pk in static_ids) for s in level))
    now = time.monotonic()
    hit = _compiled.get(key)
    if hit and now - hit[0] < COMPILED_TTL:
        return hit[1]
    conditions = {}
    for segment in level:
        try:
            conditions[segment.pk] = wanted_q(segment, filters, segment.pk in static_ids)
        except engine.Unavailable:
            continue  # kept as it is until its filter is back
    compiled = None
    if conditions:
        columns = {f"s{pk}": Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())
                   for pk, q in conditions.items()}
        qs = Contact.objects.order_by().filter(_for_ids()).annotate(**columns).values_list("pk", *columns)
        sql, params = qs.query.sql_with_params()
        compiled = LevelQuery(list(conditions), sql, list(params), list(params).index(_IDS))
    if len(_compiled) > 100:
        _compiled.clear()
    _compiled[key] = (now, compiled)
    return compiled


def _reevaluate_chunk(ids: list[int], compiled: LevelQuery, changes: Changes) -> None:
    params = list(compiled.params)
    if connection.vendor == "postgresql":
        params[compiled.ids_at] = ids
        # The same statement runs for every change: prepared on the server, it is planned once
        # (Django's cursors bind on the client and would have it planned on every call).
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(compiled.sql, params, prepare=True)
            rows = cursor.fetchall()
    else:
        params[compiled.ids_at] = json.dumps(ids)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
    segment_ids = compiled.segment_ids
    wanted = {(pk, cid) for cid, *flags in rows for pk, flag in zip(segment_ids, flags, strict=True) if flag}
    current = set(Membership.objects.filter(contact_id__in=ids, segment_id__in=segment_ids)
                  .values_list("segment_id", "contact_id"))
    joined = sorted(wanted - current)
    left = sorted(current - wanted)
    if not joined and not left:
        return
    now = timezone.now()
    with writegate.writer(), transaction.atomic():
        if joined:
            included = set(StaticMember.objects.filter(
                contact_id__in=ids, segment_id__in=segment_ids, included=True).values_list(
                "segment_id", "contact_id"))
            Membership.objects.bulk_create(
                [Membership(segment_id=s, contact_id=c, added_at=now,
                            source=Membership.Source.STATIC if (s, c) in included else Membership.Source.FILTER)
                 for s, c in joined], ignore_conflicts=True, batch_size=CHUNK)
        if left:
            by_segment: dict[int, list[int]] = {}
            for s, c in left:
                by_segment.setdefault(s, []).append(c)
            condition = Q()
            for s, cids in by_segment.items():
                condition |= Q(segment_id=s, contact_id__in=cids)
            Membership.objects.filter(condition).delete()
        _adjust_counts(joined, left)
    changes.added += len(joined)
    changes.removed += len(left)
    changes.joined += joined
    changes.left += left


def _adjust_counts(joined: list[tuple[int, int]], left: list[tuple[int, int]]) -> None:
    """member_count += joined − left, for every touched segment in one UPDATE (plain SQL: the
    ORM's CASE for 50 segments costs more than the query)."""
    delta: dict[int, int] = {}
    for s, _ in joined:
        delta[s] = delta.get(s, 0) + 1
    for s, _ in left:
        delta[s] = delta.get(s, 0) - 1
    delta = {s: d for s, d in delta.items() if d}
    if not delta:
        return
    table = Segment._meta.db_table
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    cases = " ".join("WHEN %s THEN %s" for _ in delta)
    params = [v for pair in delta.items() for v in pair] + list(delta)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET member_count = {greatest}(member_count + CASE id {cases} ELSE 0 END, 0) "
                       f"WHERE id IN ({', '.join(['%s'] * len(delta))})", params)


# -- static members ----------------------------------------------------------------------------

ORIGINS = {o.value for o in StaticMember.Origin}


def _record(kind: str, segment: Segment, contact_ids: Iterable[int], origin: str, source: str) -> None:
    now = timezone.now()
    stamp = now.timestamp()
    title = f"Added to segment “{segment.name}”" if kind == "segments.added" else \
        f"Removed from segment “{segment.name}”"
    contacts.record_activities(contacts.ActivityInput(
        cid, kind, now, title, f"{kind}:{segment.pk}:{cid}:{stamp}",
        {"segment_id": segment.pk, "segment": segment.name, "origin": origin,
         "url": f"/segments/{segment.pk}/"}, source) for cid in contact_ids)


def _existing_contacts(contact_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(i) for i in contact_ids})
    found: list[int] = []
    for start in range(0, len(ids), CHUNK):
        found += list(Contact.objects.filter(pk__in=ids[start:start + CHUNK]).values_list("pk", flat=True))
    return found


def add_static(segment: Segment, contact_ids: Iterable[int], *, origin: str = "manual", user=None,
               source: str = "ui") -> int:
    """Include contacts whatever the filters say. Returns how many became members."""
    return len(set_static(segment, contact_ids, True, origin=origin, user=user, source=source))


def remove_static(segment: Segment, contact_ids: Iterable[int], *, origin: str = "manual", user=None,
                  source: str = "ui") -> int:
    """Exclude contacts whatever the filters say. Returns how many left the segment."""
    return len(set_static(segment, contact_ids, False, origin=origin, user=user, source=source))


def set_static(segment: Segment, contact_ids: Iterable[int], included: bool, *, origin: str = "manual", user=None,
               source: str = "ui") -> list[int]:
    """Include (or exclude) contacts by hand, in bulk; the ids of those who joined (or left)."""
    if origin not in ORIGINS:
        raise ValueError(f"Unknown origin {origin!r}")
    ids = _existing_contacts(contact_ids)
    user = user if getattr(user, "is_authenticated", False) else None
    changed: list[int] = []
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            members = set(Membership.objects.filter(segment=segment, contact_id__in=chunk)
                          .values_list("contact_id", flat=True))
            StaticMember.objects.bulk_create(
                [StaticMember(segment=segment, contact_id=c, included=included, origin=origin, added_by=user,
                              added_at=now) for c in chunk],
                update_conflicts=True, unique_fields=["segment", "contact"],
                update_fields=["included", "origin", "added_by", "added_at"])
            if included:
                fresh = [c for c in chunk if c not in members]
                Membership.objects.bulk_create(
                    [Membership(segment=segment, contact_id=c, source=Membership.Source.STATIC, added_at=now)
                     for c in fresh], ignore_conflicts=True)
                if members:  # members by the filters until now: by hand from now on
                    Membership.objects.filter(segment=segment, contact_id__in=list(members)).exclude(
                        source=Membership.Source.STATIC).update(source=Membership.Source.STATIC)
            else:
                fresh = [c for c in chunk if c in members]
                Membership.objects.filter(segment=segment, contact_id__in=fresh).delete()
            changed += fresh
        if changed:
            delta = len(changed) if included else -len(changed)
            Segment.objects.filter(pk=segment.pk).update(member_count=Greatest(ExpressionWrapper(
                F("member_count") + delta, output_field=IntegerField()), 0))
            _record("segments.added" if included else "segments.removed", segment, changed, origin, source)
    return changed


def reset_static(segment: Segment, contact_ids: Iterable[int]) -> Changes:
    """Forget hand-made decisions: the filters decide again for these contacts."""
    ids = _existing_contacts(contact_ids)
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            StaticMember.objects.filter(segment=segment, contact_id__in=ids[start:start + CHUNK]).delete()
        Membership.objects.filter(segment=segment, contact_id__in=ids).update(source=Membership.Source.FILTER)
        return reevaluate(ids, [segment])


def contacts_from_emails(emails: Iterable[str], *, create: bool, user=None) -> tuple[list[int], list[str]]:
    """Contact ids for e-mail addresses (created when ``create``); and the lines refused."""
    wanted: dict[str, str] = {}
    refused: list[str] = []
    for raw in emails:
        email = str(raw).strip().strip(",;").strip()
        if not email:
            continue
        if "@" not in email or len(email) > 254:
            refused.append(email)
            continue
        wanted.setdefault(normalize_email(email), email)
    ids: list[int] = []
    if create and wanted:
        result = contacts.upsert_contacts([{"email": e} for e in wanted.values()], skip_invalid=True, owner=user)
        bad = {index for index, _ in result.errors}
        refused += [e for i, e in enumerate(wanted.values()) if i in bad]
        ids = list(result.ids.values())
    else:
        keys = list(wanted)
        for start in range(0, len(keys), CHUNK):
            found = dict(Contact.objects.filter(email_key__in=keys[start:start + CHUNK]).values_list(
                "email_key", "pk"))
            ids += list(found.values())
            refused += [wanted[k] for k in keys[start:start + CHUNK] if k not in found]
    return ids, refused


# -- reading ------------------------------------------------------------------------------------

def member_rows(segment: Segment, q: str = ""):
    """Membership rows with their contacts, for member lists."""
    qs = Membership.objects.filter(segment=segment).select_related("contact")
    if q:
        needle = q.strip().lower()
        qs = qs.filter(Q(contact__email_key__contains=needle) | Q(contact__first_name__icontains=needle)
                       | Q(contact__last_name__icontains=needle))
    return qs.order_by("-added_at", "-id")


def contact_segments(contact: Contact) -> list[dict[str, Any]]:
    """The segments a contact is in, and those it was excluded from by hand."""
    rows = {m.segment_id: {"segment": m.segment, "source": m.source, "excluded": False}
            for m in Membership.objects.filter(contact=contact).select_related("segment")}
    for entry in StaticMember.objects.filter(contact=contact, included=False).select_related("segment"):
        rows[entry.segment_id] = {"segment": entry.segment, "source": "excluded", "excluded": True}
    return sorted(rows.values(), key=lambda r: r["segment"].name.lower())


def filter_contact_list(qs, params):
    """``?segment=ID`` on the contact list, the API and exports (a contacts list hook)."""
    value = str(params.get("segment") or "").strip()
    if not value:
        return qs
    if not value.isdigit() or len(value) > 18:
        return qs.none()
    return qs.filter(Exists(Membership.objects.filter(segment_id=int(value), contact_id=OuterRef("pk"))))


def segments_by_name() -> list[Segment]:
    return list(Segment.objects.order_by(Lower("name")))
