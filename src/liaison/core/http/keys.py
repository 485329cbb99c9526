"""Provider keys: 64-bit integers that must never pass through a float.

Python's ``json`` parses integers exactly, so the danger is elsewhere: a key that
arrives as a JSON float (or is turned into one) has already lost digits. ``as_key``
stores keys as strings and refuses floats instead of storing a wrong key.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class InvalidKey(ValueError):
    pass


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping integers exact and floats as Decimal (no silent rounding)."""
    return json.loads(text, parse_float=Decimal)


def as_key(value: Any, field: str = "key") -> str:
    """A provider key as a string; refuses floats and empty values."""
    if isinstance(value, bool) or value is None:
        raise InvalidKey(f"{field} is missing or not a key: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        raise InvalidKey(f"{field} arrived as a decimal number ({value!r}); it may have lost digits")
    text = str(value).strip()
    if not text:
        raise InvalidKey(f"{field} is empty")
    return text
