from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from liaison.core.contributions.base import Contribution


@dataclass(eq=False, repr=False)
class TimelineKind(Contribution):
    """A kind of entry on the contact timeline (``contacts.Activity.kind``).

    ``template`` renders the entry's details (it receives ``activity``); without one the
    timeline shows the title and the data's ``summary`` and ``url`` keys.
    """

    kind: ClassVar[str] = "timeline_kind"
    key: str
    label: str
    icon: str = "•"
    template: str = ""
    group: str = "Liaison"


@dataclass(eq=False, repr=False)
class PointEvent(Contribution):
    """An event about contacts that point rules score and campaigns react to.

    Its occurrences are announced as ``ContactEvent``s with the same key
    (``liaison.core.events.announce``). ``subject`` names the key of the event's ``data``
    that says what it is about (``"email_id"`` for "opens an e-mail", ``"form_id"``,
    ``"goto_event_key"``): point rules and campaign decisions may be limited to some
    subjects ("opens *this* e-mail"), chosen among ``subject_choices()`` ``[(value, label)]``.
    Without a subject the event can only be taken as a whole.
    """

    kind: ClassVar[str] = "point_event"
    key: str
    label: str
    group: str = "Liaison"
    subject: str = ""
    subject_label: str = ""
    subject_choices: Callable[[], list[tuple[str, str]]] | None = None
    description: str = ""

    def validate(self) -> None:
        super().validate()
        if self.subject and not self.subject_label:
            raise ValueError(f"Point event {self.key!r}: a subject needs a subject_label")
        if self.subject_choices is not None and not self.subject:
            raise ValueError(f"Point event {self.key!r}: subject_choices need a subject")
