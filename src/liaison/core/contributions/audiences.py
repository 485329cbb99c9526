"""Audiences: named groups of contacts that segment e-mails are sent to and campaigns start from.

The segments app contributes "Segments" (``segments.segment``: the members of chosen
segments); an integration may add its own (an address book, a CRM list). Apps that send
to or start from a group of contacts (e-mails, campaigns) store ``(audience key, values)``
and ask the registry, so they never import the app that owns the group.

Everything happens in the database: ``to_q(values)`` returns a ``Q`` or ``Exists`` on
``contacts.Contact`` (inside ``Exists``, the contact is ``OuterRef("pk")``), so a broadcast
or a campaign's enrollment is one set-based query.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from liaison.core.contributions.base import Contribution
from liaison.core.contributions.segments import ChoicePage

if TYPE_CHECKING:
    from django.db.models import Exists, Q


@dataclass(eq=False, repr=False)
class Audience(Contribution, ABC):
    """A kind of contact group, e.g. "Segments"; its ``values`` pick the groups (segment ids).

    - ``choices(query, offset, limit)``: the groups offered, searched and paged;
    - ``choice_labels(values)``: labels of stored values (unknown ones are left out: the
      group was deleted);
    - ``to_q(values)``: contacts in *any* of the groups;
    - ``joined_at(values)``: an expression giving when the contact (``OuterRef("pk")``)
      last joined one of the groups, or None when the audience cannot tell (campaigns use
      it to let a contact re-enter after leaving and joining again);
    - ``unavailable_reason(values)``: a sentence while the audience cannot be used
      (a group is being rebuilt with an unavailable filter, ...), else None.
    """

    kind: ClassVar[str] = "audience"
    key: str
    label: str
    group: str = "Liaison"
    description: str = ""

    @abstractmethod
    def to_q(self, values: Sequence[str]) -> Q | Exists:
        """Contacts in any of these groups."""

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        return ChoicePage([], more=False)

    def choice_labels(self, values: Sequence[str]) -> dict[str, str]:
        return {}

    def joined_at(self, values: Sequence[str]) -> Any | None:
        return None

    def unavailable_reason(self, values: Sequence[str]) -> str | None:
        return None

    def describe(self, values: Sequence[str]) -> str:
        labels = self.choice_labels(values)
        names = [labels.get(str(v), f"#{v} (deleted)") for v in values]
        return f"{self.label}: {', '.join(names)}" if names else self.label
