from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from liaison.core.contributions.base import Contribution


@dataclass(eq=False, repr=False)
class ContactPanel(Contribution):
    """A section another app adds to the contact page, so ``contacts`` imports no app.

    ``slot`` is "sidebar" (a card under the contact's facts) or "actions" (buttons in the
    page head). ``template`` is included with ``contact`` and ``panel`` (what
    ``context(request, contact)`` returned, or an empty dict). ``permission`` is the least
    role capability needed to see it.
    """

    kind: ClassVar[str] = "contact_panel"
    key: str
    label: str
    template: str
    context: Callable[[Any, Any], dict] | None = None
    slot: str = "sidebar"
    order: int = 100
    permission: str = "view"

    def validate(self) -> None:
        super().validate()
        if self.slot not in ("sidebar", "actions"):
            raise ValueError(f"Contact panel {self.key!r}: slot must be sidebar or actions")
