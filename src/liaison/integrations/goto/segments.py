"""GoTo in segments: registered, attended, did not attend, attended for at least N minutes.

One filter per product and fact (keys ``goto.<product>.<fact>``, stored in users' segments).
Each is a *period* filter, so one condition says all of it:

* which events: ``values`` are GoTo keys (webinarKey, trainingKey, meetingId; GoToAssist
  session ids), or ``"any"`` (nothing ticked means any too);
* include or exclude: ``ever`` (including) and ``never`` (excluding);
* when: ``in_last_days`` / ``not_in_last_days`` / ``in_between`` restrict the events to those
  that *started* in that window (the event's date, not the registration's).

Everything is one correlated ``EXISTS`` on the facts tables joined to their event, with the
contact as ``OuterRef("pk")``: rebuilds, counts and re-evaluations run it in SQL, whatever the
number of contacts, accounts or events.

Semantics (docs/integrations/goto.md, "Segments"):

* *registered*: an active registration (registered, or waiting for approval); cancelled and
  denied ones do not count.
* *attended*: at least one attendance in a session of the event.
* *did not attend* (webinars, trainings): registered (active) for an event that is over and was
  not cancelled, and no attendance at **that same** event (Mautic mixed the two lists: registered
  for A and attended B counted as attended). Meetings and GoToAssist have no registration:
  there it means never attended (the chosen meetings / any meeting; no support session).
* *attended at least N minutes*: the time spent is summed per event over all its sessions (a
  sequence, a multi-session training, a restarted meeting); members of a webinar series are
  separate events (each its own key and registrants), so they are not added together.
  GoToAssist: the length of one support session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from liaison.core.contributions import ChoicePage, SegmentFilter
from liaison.integrations.goto import queries
from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration
from liaison.integrations.goto.spec import PRODUCT_LABELS

ANY = "any"
OPERATORS = ("ever", "never", "in_last_days", "not_in_last_days", "in_between")
OPERATOR_LABELS = {
    "ever": "including",
    "never": "excluding",
    "in_last_days": "including, held in the last N days",
    "not_in_last_days": "excluding, held in the last N days",
    "in_between": "including, held between two dates",
}
NOUNS = {"webinar": "webinar", "training": "training", "meeting": "meeting", "assist": "support session"}


def _day_start(day: str) -> datetime:
    return timezone.make_aware(datetime.combine(date.fromisoformat(day), time.min), timezone.get_current_timezone())


def window(value: dict[str, Any], operator: str) -> tuple[datetime | None, datetime | None]:
    """The [start, end) window on the event's start that the operator asks for (None: open)."""
    if operator in ("in_last_days", "not_in_last_days"):
        now = timezone.now()
        return now - timedelta(days=value["days"]), now
    if operator == "in_between":
        return _day_start(value["from"]), _day_start(value["to"]) + timedelta(days=1)
    return None, None


@dataclass(eq=False, repr=False)
class GoToFilter(SegmentFilter):
    """A fact of one GoTo product (see the module's docstring); ``fact`` is registered,
    attended, not_attended or attended_minutes."""

    product: str = "webinar"
    fact: str = "registered"

    @property
    def noun(self) -> str:
        return NOUNS[self.product]

    def operator_label(self, operator: str) -> str:
        return OPERATOR_LABELS.get(operator) or super().operator_label(operator)

    def unavailable_reason(self) -> str | None:
        if queries.usable_accounts(self.product):
            return None
        return (f"No published GoTo account has {PRODUCT_LABELS[self.product]} switched on: the filter "
                f"“{self.label}” is unavailable.")

    # -- values: events by key ---------------------------------------------------------------

    def _any_item(self, query: str, offset: int) -> list[tuple[str, str]]:
        label = f"Any {self.noun}"
        needle = (query or "").strip().lower()
        return [(ANY, label)] if offset == 0 and (not needle or needle in label.lower()) else []

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        if self.product == "assist":
            items, more = assist_choices(query, offset, limit)
        else:
            items, more = queries.event_choices(self.product, query, offset, limit)
        return ChoicePage(self._any_item(query, offset) + items, more=more)

    def choice_labels(self, values) -> dict[str, str]:
        wanted = [str(v) for v in values]
        labels = {ANY: f"Any {self.noun}"} if ANY in wanted else {}
        keys = [v for v in wanted if v != ANY]
        labels.update(assist_labels(keys) if self.product == "assist" else queries.event_labels(self.product, keys))
        return labels

    def clean(self, operator: str, value: Any) -> Any:
        cleaned = super().clean(operator, value)
        if isinstance(cleaned, dict) and (not cleaned["values"] or ANY in cleaned["values"]):
            cleaned["values"] = [ANY]  # "any" wins, as in Mautic; nothing ticked says the same
        return cleaned

    # -- SQL ---------------------------------------------------------------------------------------

    def _events(self, value: dict[str, Any], operator: str, prefix: str = "event__") -> Q:
        """The chosen events (and window) as a condition on a facts table joined to ``Event``."""
        q = Q(**{f"{prefix}product": self.product})
        keys = [v for v in value.get("values") or [] if v != ANY]
        if keys and ANY not in (value.get("values") or []):
            q &= Q(**{f"{prefix}provider_key__in": keys})
        start, end = window(value, operator)
        if start is not None:
            q &= Q(**{f"{prefix}starts_at__gte": start, f"{prefix}starts_at__lt": end})
        return q

    def _assist(self, value: dict[str, Any], operator: str) -> Q:
        q = Q(contact=OuterRef("pk"))
        keys = [v for v in value.get("values") or [] if v != ANY]
        if keys and ANY not in (value.get("values") or []):
            q &= Q(session_id__in=keys)
        start, end = window(value, operator)
        if start is not None:
            q &= Q(started_at__gte=start, started_at__lt=end)
        return q

    def facts(self, operator: str, value: dict[str, Any]):
        """The correlated subquery whose existence means "has the fact"."""
        if self.product == "assist":
            sessions = AssistSession.objects.filter(self._assist(value, operator))
            if self.fact == "attended_minutes":
                return sessions.filter(duration_seconds__gte=value["at_least"] * 60)
            return sessions.filter(queries.ASSIST_ATTENDED)
        events = self._events(value, operator)
        if self.fact == "registered":
            return Registration.objects.filter(events, contact=OuterRef("pk"), status__in=Registration.ACTIVE)
        if self.fact == "not_attended" and self.product in ("webinar", "training"):
            attended = Attendance.objects.filter(event=OuterRef("event"), email_key=OuterRef("email_key"))
            return Registration.objects.filter(
                events, contact=OuterRef("pk"), status__in=Registration.ACTIVE, event__ends_at__lt=timezone.now(),
            ).exclude(event__status=Event.Status.CANCELLED).exclude(Exists(attended))
        attendances = Attendance.objects.filter(events, contact=OuterRef("pk"))
        if self.fact == "attended_minutes":
            return (attendances.order_by().values("event").annotate(spent=Sum("duration_seconds"))
                    .filter(spent__gte=value["at_least"] * 60))
        return attendances  # attended (and, negated below, never attended for meetings)

    def to_q(self, operator: str, value: Any) -> Q | Exists:
        exists = Exists(self.facts(operator, value))
        negative = operator in ("never", "not_in_last_days")
        if self.fact == "not_attended" and self.product in ("meeting", "assist"):
            negative = not negative  # "never attended"
        return ~exists if negative else exists


def assist_choices(query: str, offset: int, limit: int) -> tuple[list[tuple[str, str]], bool]:
    qs = AssistSession.objects.order_by("-started_at", "-id")
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(session_id=query) | Q(expert_name__icontains=query) | Q(customer_name__icontains=query)
                       | Q(partner_object=query))
    rows = list(qs.values("session_id", "started_at", "expert_name")[offset:offset + limit + 1])
    return [(r["session_id"], _assist_label(r)) for r in rows[:limit]], len(rows) > limit


def assist_labels(keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    return {r["session_id"]: _assist_label(r) for r in AssistSession.objects.filter(session_id__in=keys).values(
        "session_id", "started_at", "expert_name")}


def _assist_label(row: dict[str, Any]) -> str:
    label = queries.event_label(f"Support session {row['session_id']}", row["started_at"])
    return f"{label} ({row['expert_name']})" if row["expert_name"] else label


FACTS = {
    # fact: (label, products, description)
    "registered": ("Registered for {a} {noun}", ("webinar", "training"),
                   "Registered (or waiting for approval) for the chosen {nouns}, or any."),
    "attended": ("Attended {a} {noun}", ("webinar", "training", "meeting", "assist"),
                 "Attended at least one session of the chosen {nouns}, or any."),
    "not_attended": ("Did not attend {a} {noun}", ("webinar", "training", "meeting", "assist"),
                     "Registered for one of the chosen {nouns} that is over, and did not attend it."),
    "attended_minutes": ("Time spent in {a} {noun}", ("webinar", "training", "meeting", "assist"),
                         ("At least N minutes in one {noun}, summed over its sessions (members of a webinar "
                          "series count apart).")),
}
# Meetings and support sessions have no registration; support sessions are "had", not "attended".
SPECIAL = {
    ("meeting", "not_attended"): (
        "Did not attend a meeting", "Never attended the chosen meetings (any: never attended a meeting)."),
    ("assist", "attended"): (
        "Had a support session", "Had one of the chosen GoToAssist support sessions (the customer joined), or any."),
    ("assist", "not_attended"): (
        "Never had a support session", "Had none of the chosen GoToAssist support sessions (any: never had one)."),
    ("assist", "attended_minutes"): ("Length of a support session", "One support session lasted at least N minutes."),
}


def segment_filters() -> list[SegmentFilter]:
    found: list[SegmentFilter] = []
    for fact, (label, products, description) in FACTS.items():
        for product in products:
            noun = NOUNS[product]
            words = {"noun": noun, "nouns": noun + "s", "a": "an" if noun[0] in "aeiou" else "a"}
            own_label, own_description = SPECIAL.get((product, fact), (label, description))
            found.append(GoToFilter(
                key=f"goto.{product}.{fact}", label=own_label.format(**words), group=PRODUCT_LABELS[product],
                value_type="period", operators=OPERATORS, description=own_description.format(**words),
                threshold_label="minutes" if fact == "attended_minutes" else "", product=product, fact=fact))
    return found
