from __future__ import annotations

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
    """An event that point rules can score (form submitted, attended a webinar, ...)."""

    kind: ClassVar[str] = "point_event"
    key: str
    label: str
    group: str = "Liaison"
