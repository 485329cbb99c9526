"""Reading an integration's typed settings schema (a pydantic model).

Settings pages, the API and validation all come from the schema: a field typed
``SecretStr`` is a secret (stored encrypted, never sent back), ``bool`` a checkbox,
``Literal``/``Enum`` a choice, ``int`` a number, URLs a URL input.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic import ValidationError as PydanticValidationError

from liaison.core.errors import ValidationFailed
from liaison.core.schema import SettingField, describe, field_errors

__all__ = ["SettingField", "describe", "merge_and_validate", "secret_names"]


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
        raise ValidationFailed(field_errors(exc)) from None
    dumped = model.model_dump(mode="json")
    stored_settings = {k: v for k, v in dumped.items() if k not in secrets}
    stored_secrets = {k: new_secrets[k] for k in secrets if new_secrets.get(k) not in (None, "")}
    return stored_settings, stored_secrets
