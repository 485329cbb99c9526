"""The tokens every e-mail can use: contact fields, unsubscribe and web-view links, the date."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, timezone
from django.utils.dateformat import format as date_format

from liaison.contacts.fields import CUSTOM_PREFIX, STANDARD_FIELDS, FieldDef, custom_field_defs
from liaison.core.contributions import EmailToken, TokenContext, TokenResult

# Standard fields a token can show (the do-not-contact flags and the owner are not content).
CONTACT_TOKEN_FIELDS: dict[str, FieldDef] = {
    f.key: f for f in STANDARD_FIELDS if f.key not in ("owner", "do_not_contact", "dnc_reason")
}
PREVIEW_TOKEN = "preview"


def _custom_defs() -> dict[str, FieldDef]:
    return {d.alias: d for d in custom_field_defs()}


def _alias(param: str | None) -> str:
    alias = (param or "").strip()
    return alias.removeprefix(CUSTOM_PREFIX)


def format_value(definition: FieldDef, value) -> str:
    """A stored field value as a reader expects it (dates in the site's format, Yes/No, lists)."""
    if value is None or value == "" or value == []:
        return ""
    kind = definition.type
    try:
        if kind == "date":
            return formats.date_format(value if isinstance(value, date) else date.fromisoformat(str(value)))
        if kind == "datetime":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    except ValueError:
        return str(value)
    if kind == "boolean" or isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_contactfield(ctx: TokenContext, param: str | None) -> TokenResult:
    alias = _alias(param)
    contact = ctx.contact
    if alias in CONTACT_TOKEN_FIELDS:
        if alias == "company":
            value = contact.company.name if contact.company_id else ""
        else:
            value = getattr(contact, alias)
        return TokenResult.value(format_value(CONTACT_TOKEN_FIELDS[alias], value))
    definitions = ctx.prefetched if ctx.prefetched is not None else _custom_defs()
    definition = definitions.get(alias)
    if definition is None:
        return TokenResult.missing(f"there is no contact field “{alias}”")
    return TokenResult.value(format_value(definition, (contact.custom or {}).get(alias)))


def check_contactfield(email, param: str | None) -> list[str]:
    alias = _alias(param)
    if alias in CONTACT_TOKEN_FIELDS or alias in _custom_defs():
        return []
    return [f"{{contactfield={param}}}: there is no contact field “{alias}” (use a field alias, e.g. first_name)."]


def contactfield_choices() -> list[tuple[str, str]]:
    standard = [(key, definition.label) for key, definition in CONTACT_TOKEN_FIELDS.items()]
    return standard + [(d.alias, d.label) for d in custom_field_defs()]


def send_url(ctx: TokenContext, prefix: str) -> str:
    token = ctx.send.token if ctx.send is not None else PREVIEW_TOKEN
    return f"{ctx.base_url}/{prefix}/{token}/"


def render_unsubscribe(ctx: TokenContext, param: str | None) -> TokenResult:
    # Personal: the link carries this send's token, so tracking must never share it.
    return TokenResult.link(send_url(ctx, "u"), personal=True)


def render_webview(ctx: TokenContext, param: str | None) -> TokenResult:
    return TokenResult.link(send_url(ctx, "v"), personal=True)


def render_date(ctx: TokenContext, param: str | None) -> TokenResult:
    today = timezone.localdate()
    if param:
        return TokenResult.value(date_format(today, param))
    return TokenResult.value(formats.date_format(today))


CORE_TOKENS = (
    EmailToken(key="contactfield", label="Contact field", render=render_contactfield, param="required",
               param_label="alias", group="Liaison", check=check_contactfield, choices=contactfield_choices,
               prefetch=lambda contacts, email, params: _custom_defs(),
               description="A field of the contact: {contactfield=first_name|there} shows “there” when empty."),
    EmailToken(key="unsubscribe_url", label="Unsubscribe link", render=render_unsubscribe, is_link=True,
               description="The contact's own unsubscribe page (one click sets do-not-contact)."),
    EmailToken(key="webview_url", label="Web view link", render=render_webview, is_link=True,
               description="This message, as sent, in the browser."),
    EmailToken(key="date", label="Today's date", render=render_date, param="optional", param_label="format",
               description="Today's date; {date=Y-m-d} picks a format (Django date format characters)."),
)
