from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from liaison.core.contributions.base import Contribution


@dataclass(eq=False, repr=False)
class NavItem(Contribution):
    """An entry of the main navigation.

    ``section`` is "main" (marketing work) or "settings"; ``permission`` is the least
    role capability needed to see it ("view", "edit" or "admin").
    """

    kind: ClassVar[str] = "nav_item"
    key: str
    label: str
    url_name: str
    section: str = "main"
    order: int = 100
    permission: str = "view"
    active_prefix: str = ""
