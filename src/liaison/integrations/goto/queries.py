"""Read-side queries shared by the pages and the API: counts computed in SQL, filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import dateformat, timezone

from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration
from liaison.integrations.models import Integration


def _count(qs: QuerySet, field: str = "id", distinct: bool = False) -> Coalesce:
    sub = qs.order_by().values("event").annotate(n=Count(field, distinct=distinct)).values("n")
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def with_counts(qs: QuerySet[Event]) -> QuerySet[Event]:
    """Each event with ``registered`` (active registrations), ``attended`` (distinct people)
    and ``no_show`` (registered, never attended): one correlated subquery each, no join fan-out."""
    active = Registration.objects.filter(event=OuterRef("pk"), status__in=Registration.ACTIVE)
    attended_any = Attendance.objects.filter(event=OuterRef("event"), email_key=OuterRef("email_key"))
    return qs.annotate(
        registered=_count(active),
        attended=_count(Attendance.objects.filter(event=OuterRef("pk")), "email_key", distinct=True),
        no_show=_count(active.exclude(Exists(attended_any))),
    )


def filter_events(params: Mapping[str, Any], qs: QuerySet[Event] | None = None) -> QuerySet[Event]:
    qs = qs if qs is not None else Event.objects.all()
    if params.get("integration"):
        qs = qs.filter(integration_id=params["integration"])
    if params.get("product"):
        qs = qs.filter(product=params["product"])
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(provider_key=q) | Q(provider_id=q.replace("-", "")))
    if isinstance(params.get("starts_after"), datetime):
        qs = qs.filter(starts_at__gte=params["starts_after"])
    if isinstance(params.get("starts_before"), datetime):
        qs = qs.filter(starts_at__lt=params["starts_before"])
    return qs


def _filtered(qs: QuerySet, params: Mapping[str, Any], columns: dict[str, str]) -> QuerySet:
    """Equality filters for the parameters given (``columns``: parameter -> column); ``email`` by its key."""
    for name, column in columns.items():
        if params.get(name):
            qs = qs.filter(**{column: params[name]})
    if params.get("email"):
        qs = qs.filter(email_key=str(params["email"]).strip().lower())
    return qs


def filter_registrations(params: Mapping[str, Any]) -> QuerySet[Registration]:
    qs = _filtered(Registration.objects.select_related("event"), params, {
        "event": "event_id", "contact": "contact_id", "integration": "event__integration_id",
        "product": "event__product", "status": "status", "source": "source"})
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q))
    return qs.order_by("-registered_at", "-id")


def filter_attendances(params: Mapping[str, Any]) -> QuerySet[Attendance]:
    qs = _filtered(Attendance.objects.select_related("session", "event"), params, {
        "event": "event_id", "session": "session_id", "contact": "contact_id", "integration": "event__integration_id",
        "product": "event__product"})
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(email__icontains=q)
    return qs.order_by("first_join_at", "id")


def product_summary(integration) -> dict[str, dict[str, int]]:
    """Per product: events by status, active registrations, attendances (three grouped queries)."""
    out: dict[str, dict[str, int]] = {}
    for row in Event.objects.filter(integration=integration).values("product", "status").annotate(n=Count("id")):
        out.setdefault(row["product"], {})[row["status"]] = row["n"]
    for row in (Registration.objects.filter(event__integration=integration, status__in=Registration.ACTIVE)
                .values("event__product").annotate(n=Count("id"))):
        out.setdefault(row["event__product"], {})["registrations"] = row["n"]
    for row in (Attendance.objects.filter(event__integration=integration).values("event__product")
                .annotate(n=Count("id"))):
        out.setdefault(row["event__product"], {})["attendances"] = row["n"]
    assist = AssistSession.objects.filter(integration=integration).values("status").annotate(n=Count("id"))
    out["assist"] = {row["status"]: row["n"] for row in assist}
    out["assist"]["total"] = sum(v for k, v in out["assist"].items())
    for product in ("webinar", "training", "meeting"):
        counts = out.setdefault(product, {})
        counts["events"] = sum(counts.get(s, 0) for s in Event.Status.values)
    return out


# -- what the marketing features offer: events by their GoTo key, usable accounts ---------------------
# Segments, form fields, actions and e-mail tokens name an event by its GoTo key (webinarKey,
# trainingKey, meetingId): stable, what users see in GoTo, and the same if two Liaison accounts
# read the same event (they then show once).

# A support session "attended": the customer joined (GoToAssist marks sessions that ended before
# the customer came as abandoned).
ASSIST_ATTENDED = Q(customer_joined_at__isnull=False) | Q(status__in=("active", "complete"))


def usable_accounts(product: str) -> list[int]:
    """Published GoTo accounts with ``product`` switched on (ids; one small query)."""
    return [i.pk for i in Integration.objects.filter(spec_key="goto", published=True).only("pk", "features",
                                                                                            "spec_key")
            if i.feature_enabled(product)]


def upcoming_events(product: str, accounts: list[int] | None = None) -> QuerySet[Event]:
    """Events people can still register for: upcoming, starting in the future."""
    qs = Event.objects.filter(product=product, status=Event.Status.UPCOMING, starts_at__gt=timezone.now())
    return qs.filter(integration_id__in=accounts) if accounts is not None else qs


def event_label(title: str, starts_at: datetime | None, time_zone: str = "", *, with_zone: bool = False) -> str:
    """“Title — 5 Mar 2026, 14:00”: in the event's time zone for visitors (``with_zone``), else the site's."""
    if starts_at is None:
        return title
    zone = timezone.get_current_timezone()
    if with_zone and time_zone:
        try:
            zone = ZoneInfo(time_zone)
        except (KeyError, ValueError):
            pass
    local = starts_at.astimezone(zone)
    return f"{title} — {dateformat.format(local, 'j M Y, H:i' + (' T' if with_zone else ''))}"


def event_choices(product: str, query: str = "", offset: int = 0, limit: int = 50, *,
                  events: QuerySet[Event] | None = None, soonest_first: bool = False,
                  with_zone: bool = False) -> tuple[list[tuple[str, str]], bool]:
    """One ``(key, "Title — date")`` per event (never per registration), searched and paged in SQL."""
    qs = events if events is not None else Event.objects.filter(product=product)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(provider_key=query) | Q(provider_id=query.replace("-", "")))
    rows = list(qs.order_by().values("provider_key").annotate(
        title=Max("title"), starts=Min("starts_at"), zone=Max("time_zone"))
        .order_by("starts" if soonest_first else "-starts", "provider_key")[offset:offset + limit + 1])
    items = [(r["provider_key"], event_label(r["title"], r["starts"], r["zone"], with_zone=with_zone))
             for r in rows[:limit]]
    return items, len(rows) > limit


def event_labels(product: str, keys: Iterable[str], *, events: QuerySet[Event] | None = None) -> dict[str, str]:
    keys = [str(k) for k in keys if k]
    if not keys:
        return {}
    qs = (events if events is not None else Event.objects.filter(product=product)).filter(provider_key__in=keys)
    items, _ = event_choices(product, events=qs, limit=len(keys))
    return dict(items)
