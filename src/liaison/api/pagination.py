from ninja import Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import Field


class Pagination(LimitOffsetPagination):
    """limit/offset paging with bounds the database accepts (ninja leaves offset unbounded)."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=1000)
        offset: int = Field(0, ge=0, le=1_000_000_000)
