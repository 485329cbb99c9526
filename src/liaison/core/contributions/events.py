"""Contact events: what points and campaigns react to, and who consumes them.

A contact event is a fact about one or more contacts that something may react to:
"submitted form 5", "opened e-mail 3", "registered for webinar 812…". Its ``key`` is a
``PointEvent`` key (``webforms.submitted``, ``emails.opened``, ``goto.webinar.registered``),
so the same vocabulary names what point rules score, what campaign decisions wait for
and what starts a campaign.

Apps announce events with ``liaison.core.events.announce(...)`` inside the transaction
that stores the fact: the event is written to an outbox in that transaction, so a crash
either loses both or neither. After the commit a job hands pending events, in batches and
in order, to every ``EventConsumer`` (the points app, the campaigns app). Consumers must
be idempotent: an event may reach a consumer twice after a crash (keep
``(key, contact, ref)`` unique in what you store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from liaison.core.contributions.base import Contribution


@dataclass(frozen=True)
class ContactEvent:
    """One announced fact, for one or more contacts.

    - ``key``: the ``PointEvent`` key (``emails.opened``);
    - ``contact_ids``: the contacts concerned (distinct, sorted);
    - ``occurred_at``: when it happened (UTC);
    - ``ref``: the same for every announcement of the same fact, e.g. ``emails:send:123``
      (a send opened twice is one fact), ``webforms:submission:9``,
      ``goto:webinar:<webinarKey>``. Consumers keep ``(key, contact, ref)`` unique so that
      nobody scores twice or leaves a decision twice for one fact;
    - ``data``: what the fact is about, the same for every contact of the event (JSON
      values only): ``{"email_id": 3}``, ``{"form_id": 5, "submission_id": 9}``,
      ``{"product": "webinar", "goto_event_key": "812…", "title": "…"}``. A ``PointEvent``'s
      ``subject`` names the key of ``data`` that rules and decisions may be limited to.
    - ``id``: the outbox row (None before it is stored).
    """

    key: str
    contact_ids: tuple[int, ...]
    occurred_at: datetime
    ref: str
    data: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

    def subject_value(self, name: str) -> str | None:
        """``data[name]`` as a string (subjects are compared as strings), or None."""
        value = self.data.get(name) if name else None
        return None if value is None or value == "" else str(value)


@dataclass(eq=False, repr=False)
class EventConsumer(Contribution):
    """Something that reacts to contact events (points, campaigns).

    ``handle(events)`` gets a batch of events in the order they were announced, inside a
    transaction; whatever it writes commits with the mark that the batch was handed over.
    If it raises, its transaction rolls back and the same batch is offered to it again
    later (with back-off), without holding back the other consumers.
    ``keys`` (optional) limits the events it is offered; empty means all.
    """

    kind: ClassVar[str] = "event_consumer"
    key: str
    label: str
    handle: Callable[[Sequence[ContactEvent]], None]
    keys: tuple[str, ...] = ()

    def accepts(self, key: str) -> bool:
        return not self.keys or key in self.keys

    def validate(self) -> None:
        super().validate()
        if not callable(self.handle):
            raise TypeError(f"Event consumer {self.key!r} needs a handle function")
