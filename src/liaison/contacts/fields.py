"""The contact field catalogue (standard + custom) and value coercion per field type.

Field keys are stable strings used by imports, mappings, forms and the API:
standard fields by name (``first_name``), the company by ``company`` (its name),
custom fields as ``custom.<alias>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from dateutil import parser as dateparser
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone

from liaison.contacts.models import Field

CUSTOM_PREFIX = "custom."


@dataclass(frozen=True)
class FieldDef:
    key: str
    label: str
    type: str
    max_length: int | None = None
    group: str = "core"
    choices: tuple[str, ...] = ()
    custom: bool = False
    # For numbers stored in integer columns (points): whole numbers within these bounds.
    whole_between: tuple[int, int] | None = None

    @property
    def alias(self) -> str:
        return self.key[len(CUSTOM_PREFIX):] if self.custom else self.key


# Standard contact fields that imports, forms, mappings and the API may write.
STANDARD_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("email", "E-mail", "email", 254),
    FieldDef("first_name", "First name", "text", 100),
    FieldDef("last_name", "Last name", "text", 100),
    FieldDef("position", "Position", "text", 150),
    FieldDef("phone", "Phone", "phone", 50),
    FieldDef("mobile", "Mobile", "phone", 50),
    FieldDef("address1", "Address", "text", 255, group="address"),
    FieldDef("address2", "Address (line 2)", "text", 255, group="address"),
    FieldDef("city", "City", "text", 100, group="address"),
    FieldDef("state", "State / region", "text", 100, group="address"),
    FieldDef("postcode", "Postcode", "text", 30, group="address"),
    FieldDef("country", "Country", "text", 100, group="address"),
    FieldDef("company", "Company name", "text", 255, group="company"),
    FieldDef("points", "Points", "number", whole_between=(-2_000_000_000, 2_000_000_000)),
    FieldDef("do_not_contact", "Do not contact", "boolean"),
    FieldDef("dnc_reason", "Do-not-contact reason", "text", 255),
    FieldDef("owner", "Owner (username or e-mail)", "text", 150),
)
STANDARD_BY_KEY = {f.key: f for f in STANDARD_FIELDS}
# Fields stored in a Contact column of the same name.
COLUMN_FIELDS = tuple(
    f.key for f in STANDARD_FIELDS if f.key not in {"company", "owner", "email", "points", "do_not_contact"}
)


def custom_field_defs(object_: str = Field.Object.CONTACT, fields: list[Field] | None = None) -> list[FieldDef]:
    if fields is None:
        fields = Field.objects.filter(object=object_).order_by("group", "order", "label")
    return [
        FieldDef(
            key=CUSTOM_PREFIX + f.alias,
            label=f.label,
            type=f.type,
            group=f.group or "custom",
            choices=tuple(f.choice_values()),
            custom=True,
        )
        for f in fields
    ]


def contact_field_catalogue(fields: list[Field] | None = None) -> list[FieldDef]:
    """Every field a contact value can be written to, standard first (``fields``: the custom
    contact fields when the caller has already read them)."""
    return list(STANDARD_FIELDS) + custom_field_defs(Field.Object.CONTACT, fields)


def catalogue_by_key(fields: list[Field] | None = None) -> dict[str, FieldDef]:
    return {f.key: f for f in contact_field_catalogue(fields)}


_TRUE = {"1", "true", "yes", "y", "on", "x", "oui", "ja"}
_FALSE = {"0", "false", "no", "n", "off", "", "non", "nein"}
_PHONE = re.compile(r"^[0-9+().\-\s/x]{3,50}$")
_url_validator = URLValidator(schemes=["http", "https"])
validate_email = EmailValidator()
# Django compiles these patterns lazily, behind a proxy paid on every use; imports of
# hundreds of thousands of rows call this validator once per row: resolve them once.
for _name in ("user_regex", "domain_regex", "literal_regex"):
    _lazy = getattr(EmailValidator, _name)
    setattr(validate_email, _name, re.compile(_lazy.pattern, _lazy.flags))


def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def coerce(field: FieldDef, value):
    """Turn an input value into the stored value for the field, or raise ValueError
    with a sentence that names the problem."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    kind = field.type
    if kind in ("text", "textarea"):
        text = str(value)
        if field.max_length and len(text) > field.max_length:
            raise ValueError(f"is longer than {field.max_length} characters")
        return text
    if kind == "email":
        text = str(value)
        try:
            validate_email(text)
        except ValidationError:
            raise ValueError(f"{text!r} is not a valid e-mail address") from None
        return text
    if kind == "url":
        text = str(value)
        if "://" not in text:
            text = "https://" + text
        try:
            _url_validator(text)
        except ValidationError:
            raise ValueError(f"{value!r} is not a valid web address") from None
        return text
    if kind == "phone":
        text = str(value)
        if not _PHONE.match(text):
            raise ValueError(f"{text!r} is not a valid phone number")
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, (int, float)):
            number = value
        else:
            try:
                number = Decimal(str(value).replace(" ", "").replace(",", "."))
            except InvalidOperation:
                raise ValueError(f"{value!r} is not a number") from None
            if not number.is_finite():
                raise ValueError(f"{value!r} is not a number")
            number = int(number) if number == number.to_integral_value() else float(number)
        if field.whole_between:
            low, high = field.whole_between
            if number != int(number) or not low <= number <= high:
                raise ValueError(f"must be a whole number between {low:,} and {high:,}")
            number = int(number)
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not yes or no")
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return dateparser.parse(str(value), dayfirst=False).date().isoformat()
        except (ValueError, OverflowError):
            raise ValueError(f"{value!r} is not a date") from None
    if kind == "datetime":
        if not isinstance(value, datetime):
            try:
                value = dateparser.parse(str(value))
            except (ValueError, OverflowError):
                raise ValueError(f"{value!r} is not a date and time") from None
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_current_timezone())
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if kind == "select":
        text = str(value)
        if field.choices and text not in field.choices:
            raise ValueError(f"{text!r} is not one of the choices ({', '.join(field.choices)})")
        return text
    if kind == "multiselect":
        items = value if isinstance(value, (list, tuple)) else [v for v in re.split(r"[|;,]", str(value))]
        items = [str(v).strip() for v in items if str(v).strip()]
        bad = [v for v in items if field.choices and v not in field.choices]
        if bad:
            raise ValueError(f"{', '.join(bad)} not among the choices ({', '.join(field.choices)})")
        return items
    raise ValueError(f"has an unknown type {kind!r}")
