"""Template helpers of the GoTo pages and timeline entries."""

from __future__ import annotations

from datetime import datetime

from django import template

from liaison.integrations.goto.client import parse_instant
from liaison.integrations.goto.spec import PRODUCT_LABELS

register = template.Library()


@register.filter(expects_localtime=False)
def goto_time(value):
    """An ISO string kept in a timeline entry's data, as an aware datetime (then ``|date``)."""
    if isinstance(value, datetime) or not value:
        return value or None
    try:
        return parse_instant(str(value))
    except ValueError:
        return None


@register.filter
def percent(part, whole) -> str:
    try:
        return f"{100 * int(part) / int(whole):.0f} %" if int(whole) else "—"
    except (TypeError, ValueError):
        return "—"


@register.filter
def goto_product(value) -> str:
    """``webinar`` -> ``GoToWebinar``."""
    return PRODUCT_LABELS.get(str(value), str(value))
