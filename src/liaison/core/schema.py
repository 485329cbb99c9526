"""Reading a typed settings schema (a pydantic model) to draw and check a form.

Integration settings, form action configurations and form field settings all come from
pydantic models: a field typed ``SecretStr`` is a secret, ``bool`` a checkbox,
``Literal``/``Enum`` a choice, ``int``/``float`` a number, URLs a URL input.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import AnyUrl, BaseModel, SecretStr
from pydantic import ValidationError as PydanticValidationError

from liaison.core.errors import ValidationFailed


@dataclass(frozen=True)
class SettingField:
    name: str
    label: str
    help: str
    kind: str  # text | secret | bool | int | float | choice | multichoice | url
    required: bool
    default: Any
    choices: tuple[tuple[str, str], ...] = ()


def _unwrap(annotation):
    """Optional[X] -> X."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _kind(annotation) -> tuple[str, tuple[tuple[str, str], ...]]:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        # A list of values: a multiple choice (choices from its Literal, or from the caller).
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = _kind(args[0])[1] if args else ()
        return "multichoice", inner
    if annotation is SecretStr:
        return "secret", ()
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", tuple((str(v), str(v)) for v in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "choice", tuple((str(m.value), m.name.replace("_", " ").capitalize()) for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, AnyUrl):
        return "url", ()
    return "text", ()


def describe(schema: type[BaseModel]) -> list[SettingField]:
    fields = []
    for name, info in schema.model_fields.items():
        kind, choices = _kind(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = None
        if isinstance(default, enum.Enum):
            default = default.value
        fields.append(SettingField(
            name=name,
            label=info.title or name.replace("_", " ").capitalize(),
            help=info.description or "",
            kind=kind,
            required=info.is_required(),
            default=default,
            choices=choices,
        ))
    return fields


def field_errors(exc: PydanticValidationError, prefix: str = "") -> dict[str, list[str]]:
    """A pydantic error as {field: [sentence]} (the shape of ``ValidationFailed``)."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) if error["loc"] else "__all__"
        message = error["msg"]
        if error["type"] == "missing":
            message = "This setting is required."
        elif error["type"] == "extra_forbidden":
            message = "There is no such setting."
        errors.setdefault(f"{prefix}{name}", []).append(message)
    return errors


def validate_model(schema: type[BaseModel], data: dict[str, Any], prefix: str = "") -> BaseModel:
    """The validated model, or ``ValidationFailed`` with a message per field (names prefixed)."""
    try:
        return schema.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed(field_errors(exc, prefix)) from None
