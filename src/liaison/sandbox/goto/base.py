"""Formats, parsing and error bodies shared by the GoTo product emulators."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ..common import HTTPError, JSONBodyError, Response, json_dumps, json_response

# ---------------------------------------------------------------------------
# Dates

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value: Any) -> datetime:
    """Parse an ISO-8601 instant as GoTo accepts it.

    Accepts ``2020-03-13T10:00:00Z``, fractions, ``+01:00`` / ``+0100`` offsets, G2M's
    ``2012-12-01T09:00:00.+0000`` and a bare date (midnight UTC). Naive values are UTC.
    Raises ``ValueError`` for anything else.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r}")
    m = _ISO_RE.match(value.strip())
    if not m:
        raise ValueError(f"not an ISO-8601 date-time: {value!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = 0
    if frac:
        micro = int((frac + "000000")[:6])
    dt = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=UTC
    )
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        dt = dt - sign * offset
    return dt


def iso_z(dt: datetime | None) -> str | None:
    """G2W / G2T / G2A style: ``2020-03-13T10:00:00Z`` (UTC, whole seconds)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(dt: datetime | None) -> str | None:
    """ISO with milliseconds, as GoTo uses for ``validFrom`` and webhook timestamps."""
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def g2m_time(dt: datetime | None) -> str:
    """GoToMeeting's own format: ``2012-12-01T09:00:00.+0000`` (dot, no fraction)."""
    if dt is None:
        return ""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.+0000")


def epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def minutes_between(start: datetime, end: datetime) -> int:
    return int(round((end - start).total_seconds() / 60.0))


# ---------------------------------------------------------------------------
# Errors
#
# * Gateway auth failure (missing / expired / invalid token): 403
#   {"int_err_code": "InvalidToken", "msg": "Invalid token passed"}.
# * Product errors: {"errorCode": ..., "description": ..., "incident": <long>} plus
#   optional context fields (G2T's DuplicateRegistrant carries the registrantKey).
# * Unrouted paths: {"errorCode": "NOT_FOUND", "message": ...}.


class IncidentCounter:
    """Incident numbers: 19-digit longs, deterministic for a sandbox instance."""

    def __init__(self, start: int = 3_437_843_380_023_983_360) -> None:
        self._next = start

    def __call__(self) -> int:
        self._next += 7_919
        return self._next


_incidents = IncidentCounter()


def invalid_token_response() -> Response:
    return json_response({"int_err_code": "InvalidToken", "msg": "Invalid token passed"}, 403)


def product_error(status: int, code: str, description: str, **extra: Any) -> HTTPError:
    body: dict[str, Any] = {"errorCode": code, "description": description, "incident": _incidents()}
    body.update(extra)
    return HTTPError(json_response(body, status))


def not_found_route(path: str) -> Response:
    return json_response({"errorCode": "NOT_FOUND", "message": f"No resource found for {path}"}, 404)


def bad_request(description: str, code: str = "InvalidRequest") -> HTTPError:
    return product_error(400, code, description)


def not_found(description: str, code: str = "NotFound") -> HTTPError:
    return product_error(404, code, description)


def forbidden(description: str = "The caller is not allowed to access this resource.") -> HTTPError:
    return product_error(403, "Forbidden", description)


def gateway_fault_body(status: int) -> tuple[str, bytes]:
    """Bodies of injected faults (429 from the gateway, 5xx from the service)."""
    if status == 429:
        return "application/json", json_dumps({"message": "Too Many Requests"})
    return "application/json", json_dumps(
        {
            "errorCode": "InternalServerError" if status == 500 else "ServiceUnavailable",
            "description": "The service is temporarily unavailable. Please try again later.",
            "incident": _incidents(),
        }
    )


# ---------------------------------------------------------------------------
# Request argument helpers


def required_time_arg(req: Any, name: str) -> datetime:
    raw = req.arg(name)
    if raw is None or raw == "":
        raise bad_request(f"Required request parameter '{name}' is not present.")
    try:
        return parse_time(raw)
    except ValueError:
        raise bad_request(f"Parameter '{name}' must be an ISO-8601 date-time such as 2020-03-13T10:00:00Z.") from None


def optional_time_arg(req: Any, name: str) -> datetime | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise bad_request(f"Parameter '{name}' must be an ISO-8601 date-time such as 2020-03-13T10:00:00Z.") from None


def int_arg(req: Any, name: str, default: int | None, *, minimum: int = 0, maximum: int | None = None) -> int | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Parameter '{name}' must be an integer.") from None
    if value < minimum:
        raise bad_request(f"Parameter '{name}' must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise bad_request(f"Parameter '{name}' must not be greater than {maximum}.")
    return value


def bool_arg(req: Any, name: str, default: bool) -> bool:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_request(f"Parameter '{name}' must be true or false.")


def json_body(req: Any, expect: type | tuple[type, ...] = dict) -> Any:
    try:
        data = req.json()
    except JSONBodyError as exc:
        raise bad_request(str(exc)) from None
    if not isinstance(data, expect):
        kind = "an array" if expect is list else "a JSON object"
        raise bad_request(f"The request body must be {kind}.")
    return data


def page_window(total: int, page: int, size: int) -> tuple[int, int, int]:
    """``(start, stop, total_pages)`` of a 0-based page."""
    total_pages = (total + size - 1) // size if size else 0
    start = min(page * size, total)
    return start, min(start + size, total), total_pages
