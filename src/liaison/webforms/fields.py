"""The core's form field types (registered like an integration's) and reading a submission."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import FormFieldType
from liaison.core.registry import registry

MAX_TEXT = 5000
MAX_LINE = 500


def _rules(field) -> dict[str, Any]:
    return field.validation or {}


def check_text(value: str, field, default_max: int) -> str:
    rules = _rules(field)
    limit = rules.get("max_length") or default_max
    if len(value) > limit:
        raise ValidationError(f"Use at most {limit} characters.")
    if rules.get("min_length") and len(value) < rules["min_length"]:
        raise ValidationError(f"Use at least {rules['min_length']} characters.")
    pattern = rules.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise ValidationError(rules.get("pattern_message") or "This value does not have the expected format.")
    return value


@dataclass(eq=False, repr=False)
class TextType(FormFieldType):
    max_length: int = MAX_LINE

    def clean(self, value: Any, field) -> Any:
        return check_text(str(value), field, self.max_length)


@dataclass(eq=False, repr=False)
class EmailType(FormFieldType):
    def clean(self, value: Any, field) -> Any:
        text = str(value).strip()
        try:
            validate_email(text)
        except ValidationError:
            raise ValidationError("Enter a valid e-mail address.") from None
        return check_text(text, field, 254)


@dataclass(eq=False, repr=False)
class NumberType(FormFieldType):
    def clean(self, value: Any, field) -> Any:
        try:
            number = Decimal(str(value).strip().replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise ValidationError("Enter a number.") from None
        if not number.is_finite() or abs(number) > 10**15:
            raise ValidationError("Enter a number.")
        rules = _rules(field)
        if rules.get("min") is not None and number < Decimal(str(rules["min"])):
            raise ValidationError(f"Enter {rules['min']} or more.")
        if rules.get("max") is not None and number > Decimal(str(rules["max"])):
            raise ValidationError(f"Enter {rules['max']} or less.")
        return int(number) if number == number.to_integral_value() else float(number)


@dataclass(eq=False, repr=False)
class DateType(FormFieldType):
    def clean(self, value: Any, field) -> Any:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError("Enter a date (YYYY-MM-DD).") from None
        return day.isoformat()


@dataclass(eq=False, repr=False)
class ChoiceType(FormFieldType):
    """Select, radio and checkboxes: values among the field's options."""

    def clean(self, value: Any, field) -> Any:
        allowed = {v for v, _ in self.choices(field)}
        if self.widget == "checkbox" and not allowed:  # a lone checkbox: yes or no
            return str(value).lower() in {"1", "yes", "on", "true"}
        values = value if isinstance(value, list) else [value]
        wrong = [v for v in values if v not in allowed]
        if wrong:
            raise ValidationError(f"“{wrong[0][:60]}” is not one of the choices.")
        return values if isinstance(value, list) else values[0]


class SelectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    multiple: bool = Field(False, title="Several choices", description="Visitors may choose more than one.")


def core_field_types() -> list[FormFieldType]:
    return [
        TextType(key="text", label="Text", widget="text"),
        TextType(key="textarea", label="Paragraph", widget="textarea", max_length=MAX_TEXT),
        EmailType(key="email", label="E-mail", widget="email"),
        NumberType(key="number", label="Number", widget="number"),
        DateType(key="date", label="Date", widget="date"),
        ChoiceType(key="select", label="Drop-down list", widget="select", has_options=True, config_schema=SelectConfig),
        ChoiceType(key="radio", label="Radio buttons", widget="radio", has_options=True),
        ChoiceType(key="checkbox", label="Checkbox(es)", widget="checkbox", has_options=True,
                   description="Without options: one box (yes/no), e.g. a consent. With options: a group."),
        TextType(key="hidden", label="Hidden", widget="hidden",
                 description="Not shown; its default (or ?key=value in the page address) is submitted."),
    ]


def field_type(key: str) -> FormFieldType | None:
    return registry.find(FormFieldType, key)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


def read_values(fields, data) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Any]]:
    """Check a submission: (cleaned values by key, errors by key, raw values to show again).

    ``data`` is a QueryDict (or a dict of strings / lists). Fields whose type is not
    installed any more are left out (and cannot block a visitor).
    """
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    raw_values: dict[str, Any] = {}
    for field in fields:
        kind = field_type(field.type)
        if kind is None:
            continue
        multiple = kind.is_multiple(field)
        if multiple:
            raw = data.getlist(field.key) if hasattr(data, "getlist") else data.get(field.key) or []
            raw = [str(v).strip() for v in (raw if isinstance(raw, list) else [raw]) if str(v).strip()]
            raw = raw[:200]
        else:
            raw = data.get(field.key, "")
            raw = "" if raw is None else str(raw)
            raw = raw.strip() if kind.widget != "textarea" else raw.strip("\r\n ")
            raw = raw[:MAX_TEXT * 2]
        if kind.widget == "hidden" and _empty(raw):
            raw = field.default
        raw_values[field.key] = raw
        if _empty(raw):
            if field.required:
                errors[field.key] = ["Please tick this box." if kind.widget == "checkbox" and not multiple
                                     else "This field is required."]
            elif kind.widget == "checkbox" and not multiple:
                values[field.key] = False
            continue
        try:
            cleaned = kind.clean(raw, field)
        except ValidationError as exc:
            errors[field.key] = list(exc.messages)
            continue
        if field.required and cleaned is False:
            errors[field.key] = ["Please tick this box."]
            continue
        if kind.stores_value:
            values[field.key] = cleaned
    return values, errors, raw_values
