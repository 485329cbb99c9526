from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

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


@dataclass(eq=False, repr=False)
class TemplateHook(Contribution):
    """A piece of page another app draws into a named slot, without the page importing it.

    Slots: ``contact_list.filters`` (the contact list's filter bar). (The contact page has
    its own contribution, ``ContactPanel``.) ``template`` is rendered with the page's context
    plus what ``context(request, page_context)`` returns (optional).
    """

    kind: ClassVar[str] = "template_hook"
    key: str
    label: str
    slot: str
    template: str
    context: Callable[[Any, dict], dict] | None = None
    order: int = 100
