"""What every GoTo API client shares: hosts, auth, budgets, errors, dates, durations.

GoTo's products live on one host (``https://api.getgo.com``) under product prefixes
(``/G2W/rest/v2``, ``/G2T/rest``, ``/G2M/rest``, ``/G2A/rest/v1``, ``/identity/v1``); each
product is its own API with its own budget of 10 requests per second, kept per GoTo
account (ARCHITECTURE.md, "Outbound HTTP"). Responses are parsed losslessly (keys are
64-bit integers and stay strings), the three date formats (ISO ``...Z``, G2M's
``...T09:00:00.+0000`` and epoch milliseconds) become aware UTC datetimes, durations
become seconds, and GoTo's error codes become sentences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

import httpx

from liaison.core.errors import LiaisonError
from liaison.core.http import Auth, Budget, CallAudit, Client, InvalidKey, MalformedResponse, ProviderError, as_key
from liaison.core.http import keys as keyjson

T = TypeVar("T")

REQUESTS_PER_SECOND = 10  # GoTo's documented limit, per API (goto-api.md §2.1)
MAX_PAGE_SIZE = 200  # G2W's maximum `size` / `limit`

# GoTo's error codes in a sentence ("{provider}" is the product's name). The provider's
# own description is appended by ProviderError ("GoToWebinar said: ...").
ERROR_SENTENCES: dict[str, str] = {
    "InvalidToken": "GoTo did not accept the access token even after renewing it; reconnect the account.",
    "TokenExpired": "The GoTo access token expired and could not be renewed; reconnect the account.",
    "NotConnected": "This GoTo account is not connected: open its page and click “Connect GoTo”.",
    "DuplicateRegistrant": "This person is already registered.",
    "NoSuchTraining": "GoToTraining has no such training: it may have been deleted.",
    "NotFound": "{provider} could not find it: it may have been cancelled or deleted.",
    "NOT_FOUND": "{provider} has no such resource for this account.",
    "InvalidRequest": "{provider} refused the request as invalid.",
    "Forbidden": "{provider} refused access: the connected GoTo user must own the event or be an account admin.",
    "Unauthorized": "This GoTo user has no GoToAssist Remote Support seat.",
    "not.authenticated": "{provider} refused the request: the connected GoTo user is not an administrator.",
    "TrainingOver": "This training is over: GoToTraining no longer accepts registrations for it.",
    "TrainingInSession": "This training is in session and cannot be changed now.",
    "OrganizerOverlap": "The organizer already has a training at that time.",
    "InvalidTrainingDatesMaxDuration": "A GoToTraining session may last at most 24 hours.",
    "WebinarInSession": "The webinar is in session and cannot be changed or cancelled now.",
    "TooManyActiveCodes": "The agent already has the maximum number of active connection codes.",
    "InternalServerError": "{provider}'s server failed to handle the request; it will be tried again later.",
    "ServiceUnavailable": "{provider} is temporarily unavailable; it will be tried again later.",
}


class AlreadyRegistered(ProviderError):
    """409 ``DuplicateRegistrant``: the e-mail is already registered (G2T says under which key)."""

    def __init__(self, provider: str, *, registrant_key: str = "", detail: str = ""):
        super().__init__(provider, ERROR_SENTENCES["DuplicateRegistrant"], status=409, code="DuplicateRegistrant",
                         detail=detail)
        self.registrant_key = registrant_key


def token_expired(response: httpx.Response) -> bool:
    """GoTo's gateway answers 403 ``InvalidToken`` for expired tokens (401 on some paths).

    A 401 carrying a product error code (G2A's ``Unauthorized``: no seat; the Admin API's
    ``not.authenticated``) is a refusal, not an expiry: renewing the token cannot help.
    """
    if response.status_code not in (401, 403):
        return False
    try:
        body = keyjson.loads(response.content) if response.content else {}
    except ValueError:
        body = {}
    code = body.get("int_err_code") or body.get("errorCode") if isinstance(body, dict) else None
    if response.status_code == 403:
        return code == "InvalidToken"
    return code in (None, "", "InvalidToken")


# -- dates and durations -------------------------------------------------------------

_INSTANT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_instant(value: Any) -> datetime:
    """An aware UTC datetime from GoTo's formats; ``ValueError`` otherwise.

    ``2020-03-13T10:00:00Z`` (G2W, G2T, G2A; fractions allowed), ``2012-12-01T09:00:00.+0000``
    (G2M: a dot without digits), offsets ``+01:00`` / ``+0100``, and epoch milliseconds
    (webhook ``joinTime``). A value without a zone is UTC.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a date-time: {value!r}")
    if isinstance(value, (int, Decimal)):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r}")
    match = _INSTANT.match(value.strip())
    if not match:
        if value.strip().isdigit():
            return datetime.fromtimestamp(int(value.strip()) / 1000, tz=UTC)
        raise ValueError(f"not a date-time: {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction + "000000")[:6]) if fraction else 0
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=UTC)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def iso_z(moment: datetime) -> str:
    """How GoTo wants instants sent: UTC with a trailing ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_seconds(value: Any, unit: str) -> int:
    """A duration in seconds from GoTo's seconds (G2W) or minutes (G2T, G2M; sometimes strings)."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"not a duration: {value!r}")
    number = Decimal(str(value).strip())
    if number < 0:
        raise ValueError(f"negative duration: {value!r}")
    factor = {"s": 1, "min": 60}[unit]
    return int(number * factor)


# -- reading payloads --------------------------------------------------------------------

class Reader:
    """Reads fields of one provider payload; anything unusable raises ``MalformedResponse``.

    The sentence names what was wrong, so a bad page reaches the run in words and nothing
    from it is stored (the caller writes a page only after reading all of it).
    """

    def __init__(self, provider: str, what: str):
        self.provider = provider
        self.what = what

    def fail(self, message: str, data: Any = None) -> MalformedResponse:
        return MalformedResponse(
            self.provider, f"{self.provider} sent {self.what} {message}; nothing was stored from that answer.",
            detail=repr(data)[:300] if data is not None else "")

    def obj(self, data: Any) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail("that is not a JSON object", data)
        return data

    def items(self, data: Any, *path: str) -> list[Any]:
        """A list, found at ``path`` inside an object (or the value itself)."""
        current = data
        for name in path:
            if not isinstance(current, Mapping):
                raise self.fail(f"without “{'.'.join(path)}”", data)
            current = current.get(name)
            if current is None:  # HAL omits _embedded on empty pages
                return []
        if not isinstance(current, list):
            raise self.fail("whose list is not a list", current)
        return current

    def key(self, data: Mapping[str, Any], name: str, required: bool = True) -> str:
        value = data.get(name)
        if value in (None, "") and not required:
            return ""
        try:
            return as_key(value, name)
        except InvalidKey as exc:
            raise self.fail(f"with an unusable {name} ({exc})", data) from None

    def text(self, data: Mapping[str, Any], name: str, required: bool = False, default: str = "") -> str:
        value = data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(f"without {name}", data)
            return default
        if isinstance(value, (dict, list)):
            raise self.fail(f"whose {name} is not text", data)
        return str(value)

    def email(self, data: Mapping[str, Any], name: str = "email", required: bool = True) -> str:
        value = self.text(data, name, required=required).strip()
        if value and "@" not in value:
            raise self.fail(f"whose {name} is not an e-mail address ({value!r})", data)
        return value

    def instant(self, data: Mapping[str, Any], name: str, required: bool = True) -> datetime | None:
        value = data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(f"without {name}", data)
            return None
        try:
            return parse_instant(value)
        except ValueError:
            raise self.fail(f"with an unreadable {name} ({value!r})", data) from None

    def seconds(self, data: Mapping[str, Any], name: str, unit: str, default: int | None = 0) -> int | None:
        value = data.get(name)
        if value is None or value == "":
            return default
        try:
            return to_seconds(value, unit)
        except (ValueError, ArithmeticError):
            raise self.fail(f"with an unreadable {name} ({value!r})", data) from None

    def integer(self, data: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
        value = data.get(name)
        if value is None or value == "":
            return default
        try:
            return int(str(value))
        except ValueError:
            raise self.fail(f"with an unreadable {name} ({value!r})", data) from None

    def times(self, data: Mapping[str, Any], name: str = "times", start: str = "startTime",
              end: str = "endTime") -> list[tuple[datetime, datetime]]:
        out = []
        for item in self.items(data, name):
            item = self.obj(item)
            out.append((self.instant(item, start), self.instant(item, end)))
        return sorted(out)


# -- records shared by the products --------------------------------------------------------

@dataclass(slots=True)
class EventRecord:
    """A webinar, training or meeting as the provider describes it."""

    key: str
    title: str
    times: list[tuple[datetime, datetime]]
    description: str = ""
    provider_id: str = ""
    organizer_key: str = ""
    time_zone: str = ""
    recurrence: str = ""
    recurrence_key: str = ""
    recurrence_period: str = ""
    registration_url: str = ""
    join_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RegistrantRecord:
    email: str
    first_name: str = ""
    last_name: str = ""
    key: str = ""
    status: str = "approved"  # approved | waiting | denied | cancelled
    registered_at: datetime | None = None
    join_url: str = ""
    confirmation_url: str = ""
    time_zone: str = ""


@dataclass(slots=True)
class SessionRecord:
    key: str
    starts_at: datetime | None
    ends_at: datetime | None
    event_key: str = ""
    attendee_count: int | None = None
    registrant_count: int | None = None


@dataclass(slots=True)
class AttendeeRecord:
    email: str
    first_name: str = ""
    last_name: str = ""
    registrant_key: str = ""
    intervals: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    duration_seconds: int = 0


@dataclass
class Page(Generic[T]):
    items: list[T]
    number: int
    total_pages: int
    total: int

    @property
    def last(self) -> bool:
        return self.number + 1 >= self.total_pages


def status_of(value: str) -> str:
    """A registrant status in Liaison's words (GoTo writes APPROVED, Approved, ...)."""
    lowered = (value or "approved").strip().lower()
    return lowered if lowered in ("approved", "waiting", "denied", "cancelled") else "approved"


def split_name(name: str) -> tuple[str, str]:
    """"Ada King Lovelace" -> ("Ada", "King Lovelace") for providers that send one name."""
    parts = (name or "").split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


# -- the client base ----------------------------------------------------------------------

class GoToApi:
    """One GoTo product API for one connected account (a typed layer over core.http.Client)."""

    api = ""  # budget key part: g2w | g2t | g2m | g2a | identity
    prefix = ""  # path prefix under the API host
    label = "GoTo"  # the product's name, in sentences

    def __init__(self, integration, *, auth: Auth | None = None, audit: CallAudit | None = None,
                 transport: httpx.BaseTransport | None = None):
        from liaison.integrations.goto.spec import goto_auth

        config = integration.config()
        self.integration = integration
        self.config = config
        account = integration.account or {}
        self.organizer_key = str(account.get("organizer_key") or "")
        self.account_key = str(account.get("account_key") or "")
        # One budget per API and GoTo account: two connections of the same account share it.
        owner = f"account-{self.account_key}" if self.account_key else f"integration-{integration.pk}"
        self.http = Client(
            config.api_base_url.rstrip("/") + self.prefix,
            provider=self.label,
            auth=auth or goto_auth(integration),
            budget=Budget.per_second(f"goto:{owner}:{self.api}", REQUESTS_PER_SECOND),
            audit=audit,
            transport=transport,
            error_sentences=ERROR_SENTENCES,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reader(self, what: str) -> Reader:
        return Reader(self.label, what)

    def require_organizer(self) -> str:
        if not self.organizer_key:
            raise LiaisonError("The GoTo organizer key is not known yet: connect the account (it is discovered "
                               "when you connect).")
        return self.organizer_key


class IdentityApi(GoToApi):
    api = "identity"
    prefix = "/identity/v1"
    label = "GoTo"

    def me(self) -> dict[str, Any]:
        """The connected user: organizer key (``id``), accounts, name, e-mail, time zone."""
        data = self.http.get("/Users/me").data
        read = self.reader("its user record")
        data = read.obj(data)
        accounts = []
        for account in read.items(data, "accounts"):
            account = read.obj(account)
            accounts.append({"key": read.key(account, "value"), "name": read.text(account, "display"),
                             "entitlements": [str(e) for e in account.get("entitlements") or []]})
        emails = [e.get("value") for e in data.get("emails") or [] if isinstance(e, Mapping) and e.get("value")]
        return {
            "organizer_key": read.key(data, "id"),
            "user_name": read.text(data, "userName"),
            "display_name": read.text(data, "displayName"),
            "email": emails[0] if emails else read.text(data, "userName"),
            "time_zone": read.text(data, "timezone"),
            "locale": read.text(data, "locale"),
            "accounts": accounts,
        }
