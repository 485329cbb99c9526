"""Reading an integration's typed settings schema (a pydantic model).

Settings pages, the API and validation all come from the schema: a field typed
``SecretStr`` is a secret (stored encrypted, never sent back), ``bool`` a checkbox,
``Literal``/``Enum`` a choice, ``int`` a number, URLs a URL input.
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
    kind: str  # text | secret | bool | int | float | choice | url
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


def secret_names(schema: type[BaseModel]) -> set[str]:
    return {f.name for f in describe(schema) if f.kind == "secret"}


def merge_and_validate(
    schema: type[BaseModel],
    current_settings: dict[str, Any],
    current_secrets: dict[str, Any],
    incoming: dict[str, Any],
    clear: set[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply submitted values to the stored ones and validate the whole.

    A secret left blank (or absent) keeps its stored value; names in ``clear`` remove
    one. Returns (settings, secrets) ready to store; raises ``ValidationFailed`` with
    a message per field.
    """
    secrets = secret_names(schema)
    known = set(schema.model_fields)
    unknown = set(incoming) - known
    if unknown:
        raise ValidationFailed({name: ["This integration has no such setting."] for name in sorted(unknown)})
    new_settings = {k: v for k, v in current_settings.items() if k in known and k not in secrets}
    new_secrets = {k: v for k, v in current_secrets.items() if k in secrets and k not in clear}
    for name, value in incoming.items():
        if name in secrets:
            if value not in (None, ""):
                new_secrets[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        else:
            new_settings[name] = value
    try:
        model = schema.model_validate({**new_settings, **new_secrets})
    except PydanticValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "__all__"
            message = error["msg"]
            if error["type"] == "missing":
                message = "This setting is required."
            errors.setdefault(name, []).append(message)
        raise ValidationFailed(errors) from None
    dumped = model.model_dump(mode="json")
    stored_settings = {k: v for k, v in dumped.items() if k not in secrets}
    stored_secrets = {k: new_secrets[k] for k in secrets if new_secrets.get(k) not in (None, "")}
    return stored_settings, stored_secrets
