"""Building blocks of every app's REST API router: bounded number types, the error schema,
paging. (The API object itself, its authentication and error handlers live in liaison.api.)"""

from typing import Annotated, Any

from ninja import Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import Field

# Bounds the database can store: ids are 64-bit, integer columns 32-bit.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
SmallInt = Annotated[int, Field(ge=-2_000_000_000, le=2_000_000_000)]
Count = Annotated[int, Field(ge=0, le=2_000_000_000)]


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] | None = None


class Message(Schema):
    detail: str


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class SettingFieldOut(Schema):
    """One setting of a typed schema (integration settings, form action and field configs)."""

    name: str
    label: str
    help: str
    kind: str
    required: bool
    default: Any = None
    choices: list[tuple[str, str]]


class Pagination(LimitOffsetPagination):
    """limit/offset paging with bounds the database accepts (ninja leaves offset unbounded)."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=1000)
        offset: int = Field(0, ge=0, le=1_000_000_000)
