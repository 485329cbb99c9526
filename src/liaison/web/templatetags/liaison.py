"""Template helpers available in every template (registered as builtins)."""

from __future__ import annotations

import json
from datetime import timedelta

from django import template
from django.utils.html import format_html
from django.utils.http import urlencode

register = template.Library()

STATUS_CLASSES = {
    "succeeded": "ok", "connected": "ok", "finished": "ok", "active": "ok", "published": "ok",
    "running": "busy", "queued": "busy", "retrying": "warn", "partial": "warn", "draft": "muted", "new": "muted",
    "failed": "bad", "error": "bad", "cancelled": "muted", "sent": "ok", "sending": "busy", "skipped": "warn",
    "paused": "warn", "done": "ok", "completed": "ok", "waiting": "busy", "pending": "muted", "stopped": "muted",
}


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with some parameters changed (None removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = urlencode(sorted(params.lists()), doseq=True)
    return f"?{encoded}" if encoded else "?"


@register.filter
def status_badge(value, label=None):
    css = STATUS_CLASSES.get(str(value), "muted")
    return format_html('<span class="badge badge-{}">{}</span>', css, label or value)


@register.filter
def duration(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, timedelta):
        value = timedelta(seconds=float(value))
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{value.total_seconds():.1f} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


@register.filter
def get_item(mapping, key):
    if mapping is None:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.inclusion_tag("web/_field_errors.html")
def field_errors(errors, name):
    """The messages for one field, shown next to it."""
    found = []
    if errors:
        found = errors.get(name) or []
    return {"messages": found}


@register.inclusion_tag("web/_pagination.html", takes_context=True)
def pagination(context, page):
    return {"page": page, "request": context["request"]}


INPUT_TYPES = {"text": "text", "email": "email", "url": "url", "phone": "tel", "number": "number", "date": "date",
               "datetime": "datetime-local", "boolean": "checkbox", "select": "select", "multiselect": "multiselect",
               "textarea": "textarea", "secret": "password", "bool": "checkbox", "int": "number", "float": "number",
               "choice": "select"}


@register.filter
def input_type(field_type) -> str:
    """The HTML input for a field type (contact field or integration setting)."""
    return INPUT_TYPES.get(str(field_type), "text")


@register.filter
def as_pairs(values):
    """[("a", "a"), ...] from ["a", ...] (choices given as plain values)."""
    pairs = []
    for value in values or []:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            pairs.append((str(value[0]), str(value[1])))
        else:
            pairs.append((str(value), str(value)))
    return pairs


@register.filter
def contains(container, value) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        return str(value) == container
    return str(value) in {str(v) for v in container}


@register.filter
def join_if_list(value, separator=", "):
    if isinstance(value, (list, tuple)):
        return separator.join(str(v) for v in value)
    return value


@register.simple_tag(takes_context=True)
def hooks(context, slot: str) -> str:
    """Draw the ``TemplateHook`` contributions of a slot (other apps' parts of this page)."""
    from django.utils.safestring import mark_safe

    from liaison.core.contributions import TemplateHook
    from liaison.core.registry import registry

    parts = []
    for hook in sorted((h for h in registry.all(TemplateHook) if h.slot == slot), key=lambda h: (h.order, h.key)):
        extra = hook.context(context.get("request"), context.flatten()) if hook.context else {}
        template = context.template.engine.get_template(hook.template)
        with context.push(**extra):
            parts.append(template.render(context))
    return mark_safe("".join(parts))
