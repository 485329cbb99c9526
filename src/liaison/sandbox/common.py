"""A small WSGI toolkit shared by the provider sandboxes (GoTo, INES, dotdigital).

Standard library only. It provides:

* :class:`Request` / :class:`Response` and helpers for JSON, HTML, redirects;
* :class:`Router`: path templates such as ``/organizers/{organizerKey:int}/webinars``;
* :class:`OffsetClock`: an injectable clock that tests and the control API can move;
* :class:`FaultSettings`, :class:`Faults` and :class:`FaultMiddleware`: latency, random
  5xx, 429 after N calls, forced token expiry and malformed bodies;
* :class:`CallLog`: a thread-safe log and counters of the calls served;
* :func:`make_server` / :func:`serve`: wsgiref with a threading server for stand-alone use.

Absolute URLs are always built from the request (scheme, host and ``SCRIPT_NAME``), so
an app mounted under a prefix (``/sandbox/goto``) produces correct links.
"""

from __future__ import annotations

import collections
import dataclasses
import http
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _wsgiref_make_server

__all__ = [
    "CallLog",
    "FaultMiddleware",
    "FaultSettings",
    "Faults",
    "HTTPError",
    "JSONBodyError",
    "Mount",
    "OffsetClock",
    "Request",
    "Response",
    "Router",
    "html_response",
    "json_dumps",
    "json_response",
    "make_server",
    "no_content",
    "redirect",
    "serve",
    "text_response",
    "utcnow",
]


def utcnow() -> datetime:
    """The wall clock as an aware UTC datetime."""
    return datetime.now(UTC)


# ---------------------------------------------------------------------------
# Clock


class OffsetClock:
    """A clock made of a base clock plus a movable offset.

    ``clock()`` returns an aware UTC datetime. ``advance()`` and ``set()`` move it,
    which lets tests and the ``/_sandbox/clock`` control endpoint travel in time
    whatever the base clock is.
    """

    def __init__(self, base: Callable[[], datetime] | None = None) -> None:
        self._base = base or utcnow
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        now = self._base()
        if now.tzinfo is None:
            raise ValueError("the sandbox clock must return an aware datetime")
        return now.astimezone(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(self, delta: float | timedelta) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._offset += delta
        return self()

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("set() needs an aware datetime")
        with self._lock:
            self._offset = when.astimezone(UTC) - self._base().astimezone(UTC)
        return self()

    def reset(self) -> datetime:
        with self._lock:
            self._offset = timedelta(0)
        return self()


# ---------------------------------------------------------------------------
# JSON


def json_dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON. Python ints are written exactly, whatever their size."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class JSONBodyError(ValueError):
    """The request body is not the JSON the handler expects."""


# ---------------------------------------------------------------------------
# Request / Response


class Request:
    """A thin read-only view of a WSGI environ."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        self.path: str = path
        self.script_name: str = (environ.get("SCRIPT_NAME", "") or "").rstrip("/")
        self.query: dict[str, list[str]] = parse_qs(
            environ.get("QUERY_STRING", ""), keep_blank_values=True
        )
        self.headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                self.headers[key[5:].replace("_", "-").lower()] = value
        if environ.get("CONTENT_TYPE"):
            self.headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            self.headers["content-length"] = environ["CONTENT_LENGTH"]
        self._body: bytes | None = None
        # Free slots for the application (authenticated user, token, ...).
        self.context: dict[str, Any] = {}

    # -- query -----------------------------------------------------------
    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def has_arg(self, name: str) -> bool:
        return name in self.query

    # -- headers ---------------------------------------------------------
    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    # -- body ------------------------------------------------------------
    @property
    def body(self) -> bytes:
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            stream = self.environ.get("wsgi.input")
            self._body = stream.read(length) if (stream is not None and length > 0) else b""
        return self._body

    def json(self, default: Any = ...) -> Any:
        """The body parsed as JSON; ``default`` (if given) when the body is empty."""
        raw = self.body
        if not raw.strip():
            if default is not ...:
                return default
            raise JSONBodyError("A JSON request body is required.")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JSONBodyError(f"The request body is not valid JSON: {exc}") from exc

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (first value of each field)."""
        try:
            parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}
        return {key: values[0] for key, values in parsed.items()}

    # -- URLs ------------------------------------------------------------
    @property
    def host_url(self) -> str:
        env = self.environ
        scheme = env.get("wsgi.url_scheme", "http")
        host = env.get("HTTP_HOST")
        if not host:
            host = env.get("SERVER_NAME", "localhost")
            port = str(env.get("SERVER_PORT", ""))
            if port and not ((scheme == "http" and port == "80") or (scheme == "https" and port == "443")):
                host = f"{host}:{port}"
        return f"{scheme}://{host}"

    @property
    def base_url(self) -> str:
        """Scheme, host and mount prefix (``SCRIPT_NAME``), without a trailing slash."""
        return self.host_url + quote(self.script_name)

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` below the mount point."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    @property
    def full_url(self) -> str:
        qs = self.environ.get("QUERY_STRING", "")
        return self.url(self.path) + (f"?{qs}" if qs else "")


class Response:
    """A buffered WSGI response."""

    __slots__ = ("status", "headers", "body")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers: list[tuple[str, str]] = list(headers or [])

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        lname = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lname]
        self.headers.append((name, value))

    @property
    def status_line(self) -> str:
        try:
            phrase = http.HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(self.body))))
        start_response(self.status_line, headers)
        if environ.get("REQUEST_METHOD", "GET").upper() == "HEAD":
            return [b""]
        return [self.body]


class HTTPError(Exception):
    """Raise from a handler to answer with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(
    data: Any,
    status: int = 200,
    headers: Iterable[tuple[str, str]] | None = None,
    content_type: str = "application/json",
) -> Response:
    return Response(status, json_dumps(data), [("Content-Type", content_type), *(headers or [])])


def text_response(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode("utf-8"), [("Content-Type", content_type)])


def html_response(html: str, status: int = 200) -> Response:
    return Response(status, html.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8")])


def no_content(status: int = 204) -> Response:
    return Response(status, b"", [])


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", [("Location", location)])


# ---------------------------------------------------------------------------
# Router

_PARAM_RE = re.compile(r"\{(\w+)(?::(\w+))?\}")
_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": (r"[^/]+", str),
    "int": (r"-?\d+", int),
    "path": (r".+", str),
}


@dataclasses.dataclass(slots=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    converters: dict[str, Callable[[str], Any]]
    handler: Callable[..., Response]
    options: dict[str, Any]


@dataclasses.dataclass(slots=True)
class Match:
    route: Route
    params: dict[str, Any]


class RouteParamError(ValueError):
    """A path parameter matched the pattern but could not be converted."""


class Router:
    """Method + path-template dispatch.

    Templates use ``{name}`` (one segment), ``{name:int}`` (digits, converted to int)
    or ``{name:path}`` (the rest of the path). Routes are grouped by their first static
    segment so a lookup only tries the routes of one product.
    """

    def __init__(self) -> None:
        self._groups: dict[str, list[Route]] = collections.defaultdict(list)

    @staticmethod
    def _group_of(path: str) -> str:
        stripped = path.lstrip("/")
        return stripped.split("/", 1)[0] if stripped else ""

    def add(self, method: str, template: str, handler: Callable[..., Response], **options: Any) -> None:
        converters: dict[str, Callable[[str], Any]] = {}
        pattern = ""
        pos = 0
        for match in _PARAM_RE.finditer(template):
            pattern += re.escape(template[pos : match.start()])
            name, kind = match.group(1), match.group(2) or "str"
            regex, conv = _CONVERTERS[kind]
            pattern += f"(?P<{name}>{regex})"
            converters[name] = conv
            pos = match.end()
        pattern += re.escape(template[pos:])
        route = Route(method.upper(), template, re.compile(f"^{pattern}$"), converters, handler, options)
        self._groups[self._group_of(template)].append(route)

    def route(self, method: str, template: str, **options: Any) -> Callable:
        def decorator(func: Callable[..., Response]) -> Callable[..., Response]:
            self.add(method, template, func, **options)
            return func

        return decorator

    def match(self, method: str, path: str) -> tuple[Match | None, list[str]]:
        """The matching route, or ``(None, allowed_methods)`` (empty when nothing matches)."""
        allowed: list[str] = []
        method = method.upper()
        if method == "HEAD":
            method = "GET"
        for route in self._groups.get(self._group_of(path), ()):
            found = route.regex.match(path)
            if not found:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            params: dict[str, Any] = {}
            for name, raw in found.groupdict().items():
                try:
                    params[name] = route.converters[name](raw)
                except ValueError as exc:  # pragma: no cover - regexes guard conversion
                    raise RouteParamError(name) from exc
            return Match(route, params), []
        return None, allowed

    def routes(self) -> list[Route]:
        return [route for group in self._groups.values() for route in group]


# ---------------------------------------------------------------------------
# Call log


@dataclasses.dataclass(slots=True)
class CallEntry:
    at: datetime
    method: str
    path: str
    status: int
    fault: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "fault": self.fault,
        }


class CallLog:
    """Thread-safe record of the calls served: recent entries plus exact counters."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[CallEntry] = collections.deque(maxlen=maxlen)
        self._total = 0
        self._by_status: collections.Counter[int] = collections.Counter()
        self._by_route: collections.Counter[tuple[str, str]] = collections.Counter()
        self._by_fault: collections.Counter[str] = collections.Counter()

    def record(self, at: datetime, method: str, path: str, status: int, fault: str | None = None) -> None:
        with self._lock:
            self._entries.append(CallEntry(at, method, path, status, fault))
            self._total += 1
            self._by_status[status] += 1
            self._by_route[(method, path)] += 1
            if fault:
                self._by_fault[fault] += 1

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._total = 0
            self._by_status.clear()
            self._by_route.clear()
            self._by_fault.clear()

    @property
    def total(self) -> int:
        return self._total

    def entries(self) -> list[CallEntry]:
        with self._lock:
            return list(self._entries)

    def count(
        self,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
    ) -> int:
        """Count the recorded calls that match every given filter (all calls when none).

        Counts by method and path, or by status alone, are exact; other combinations are
        counted over the retained entries (the last ``maxlen``).
        """
        method = method.upper() if method else None
        with self._lock:
            if path_prefix is None and status is None:
                return sum(n for (m, p), n in self._by_route.items()
                           if (method is None or m == method) and (path is None or p == path))
            if method is None and path is None and path_prefix is None:
                return self._by_status[status]
            return sum(
                1
                for e in self._entries
                if (method is None or e.method == method)
                and (path is None or e.path == path)
                and (path_prefix is None or e.path.startswith(path_prefix))
                and (status is None or e.status == status)
            )

    def stats(self, last: int = 50) -> dict[str, Any]:
        with self._lock:
            recent = list(self._entries)[-last:] if last else []
            return {
                "total": self._total,
                "byStatus": {str(k): v for k, v in sorted(self._by_status.items())},
                "byFault": dict(sorted(self._by_fault.items())),
                "byRoute": [
                    {"method": m, "path": p, "count": n} for (m, p), n in self._by_route.most_common(200)
                ],
                "recent": [e.as_dict() for e in recent],
            }


# ---------------------------------------------------------------------------
# Faults


@dataclasses.dataclass
class FaultSettings:
    """What the fault middleware injects. All off by default.

    * ``latency``: seconds slept before each call is answered (fractions allowed).
    * ``error_rate``: probability (0..1) that a call answers a random status from
      ``error_statuses`` instead of reaching the API; drawn from a RNG seeded by ``seed``.
    * ``rate_limit_after``: after this many calls, answer 429; the limited phase lasts
      ``rate_limit_for_seconds`` (clock time) or ``rate_limit_for_calls`` calls, after
      which the budget starts again. With neither set the limit lasts until changed.
    * ``retry_after``: when set, 429 answers carry ``Retry-After`` (seconds; in window
      mode the remaining window is sent if shorter). GoTo itself sends no such header.
    * ``malformed_responses``: the next N answers that have a body are truncated so they
      are no longer valid JSON (counts down to 0).
    """

    latency: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limit_after: int | None = None
    rate_limit_for_seconds: float | None = None
    rate_limit_for_calls: int | None = None
    retry_after: int | None = None
    malformed_responses: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data

    def validate(self) -> None:
        if self.latency < 0:
            raise ValueError("latency must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError("error_statuses must be 5xx codes")
        for name in ("rate_limit_after", "rate_limit_for_calls", "retry_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.rate_limit_for_seconds is not None and self.rate_limit_for_seconds < 0:
            raise ValueError("rate_limit_for_seconds must be >= 0")
        if self.malformed_responses < 0:
            raise ValueError("malformed_responses must be >= 0")


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(FaultSettings)}


class Faults:
    """Live fault state shared by the middleware and the control API."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._token_expirers: list[Callable[[], int]] = []
        self.settings = FaultSettings()
        self._apply(settings or FaultSettings())

    def _apply(self, settings: FaultSettings) -> None:
        settings.validate()
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._passed = 0  # calls let through since the last limited phase
        self._limited_since: datetime | None = None
        self._limited_calls = 0

    # -- configuration ---------------------------------------------------
    def configure(self, settings: FaultSettings | None = None, **changes: Any) -> FaultSettings:
        """Replace the settings (``settings``) or change some fields (``**changes``)."""
        with self._lock:
            base = settings or self.settings
            unknown = set(changes) - set(_FIELD_TYPES)
            if unknown:
                raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
            if "error_statuses" in changes and changes["error_statuses"] is not None:
                changes["error_statuses"] = tuple(int(s) for s in changes["error_statuses"])
            new = dataclasses.replace(base, **changes)
            self._apply(new)
            return new

    def reset(self) -> FaultSettings:
        with self._lock:
            self._apply(FaultSettings())
            return self.settings

    def update_from_json(self, data: dict[str, Any]) -> FaultSettings:
        """Apply a JSON object of settings (same names as :class:`FaultSettings`)."""
        if not isinstance(data, dict):
            raise ValueError("fault settings must be a JSON object")
        changes: dict[str, Any] = {}
        actions = {"expire_tokens"}
        for key, value in data.items():
            if key in actions:
                continue
            if key not in _FIELD_TYPES:
                raise ValueError(f"unknown fault setting: {key}")
            if value is None:
                changes[key] = None
            elif key in ("latency", "error_rate", "rate_limit_for_seconds"):
                changes[key] = float(value)
            elif key == "error_statuses":
                changes[key] = tuple(int(v) for v in value)
            else:
                changes[key] = int(value)
        settings = self.configure(**changes)
        if data.get("expire_tokens"):
            self.expire_tokens()
        return settings

    # -- token expiry ----------------------------------------------------
    def on_expire_tokens(self, callback: Callable[[], int]) -> None:
        """Register a callable that expires the app's current tokens (returns how many)."""
        self._token_expirers.append(callback)

    def expire_tokens(self) -> int:
        return sum(callback() for callback in self._token_expirers)

    # -- per-call decision -------------------------------------------------
    def decide(self, now: datetime) -> tuple[str | None, int, float | None]:
        """What to do with the next call: ``(fault, status, retry_after)``.

        ``fault`` is ``"rate_limit"``, ``"error"`` or ``None``.
        """
        with self._lock:
            s = self.settings
            if s.rate_limit_after is not None:
                if self._limited_since is not None:
                    ended = False
                    if s.rate_limit_for_seconds is not None:
                        ended = now >= self._limited_since + timedelta(seconds=s.rate_limit_for_seconds)
                    if s.rate_limit_for_calls is not None and self._limited_calls >= s.rate_limit_for_calls:
                        ended = True
                    if ended:
                        self._limited_since = None
                        self._limited_calls = 0
                        self._passed = 0
                if self._limited_since is None and self._passed >= s.rate_limit_after:
                    self._limited_since = now
                    self._limited_calls = 0
                if self._limited_since is not None:
                    self._limited_calls += 1
                    retry: float | None = None
                    if s.retry_after is not None:
                        retry = float(s.retry_after)
                        if s.rate_limit_for_seconds is not None:
                            remaining = (
                                self._limited_since + timedelta(seconds=s.rate_limit_for_seconds) - now
                            ).total_seconds()
                            retry = max(0.0, min(retry, remaining))
                    return "rate_limit", 429, retry
                self._passed += 1
            if s.error_rate > 0 and self._rng.random() < s.error_rate:
                return "error", self._rng.choice(s.error_statuses), None
            return None, 200, None

    def take_malformed(self) -> bool:
        """Consume one 'malformed body' credit, if any is left."""
        with self._lock:
            if self.settings.malformed_responses > 0:
                self.settings.malformed_responses -= 1
                return True
            return False


def _default_fault_body(status: int) -> tuple[str, bytes]:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return "application/json", json_dumps({"message": phrase})


class FaultMiddleware:
    """Applies :class:`Faults` around a WSGI app and records every call in a :class:`CallLog`.

    ``exempt_prefixes`` (for example the ``/_sandbox`` control group) are neither
    faulted nor logged. ``fault_body(status)`` returns the ``(content_type, body)`` of
    injected 429 and 5xx answers, so each provider answers in its own error format.
    """

    def __init__(
        self,
        app: Callable,
        faults: Faults,
        calls: CallLog,
        clock: Callable[[], datetime] = utcnow,
        *,
        exempt_prefixes: tuple[str, ...] = ("/_sandbox",),
        fault_body: Callable[[int], tuple[str, bytes]] = _default_fault_body,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.faults = faults
        self.calls = calls
        self.clock = clock
        self.exempt_prefixes = exempt_prefixes
        self.fault_body = fault_body
        self.sleep = sleep

    def _exempt(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.exempt_prefixes)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if self._exempt(path):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        fault, status, retry_after = self.faults.decide(self.clock())
        latency = self.faults.settings.latency
        if latency > 0:
            self.sleep(latency)
        if fault is not None:
            content_type, body = self.fault_body(status)
            response = Response(status, body, [("Content-Type", content_type)])
            if fault == "rate_limit" and retry_after is not None:
                response.set_header("Retry-After", str(int(math.ceil(retry_after))))
            self.calls.record(self.clock(), method, path, status, fault)
            return response(environ, start_response)

        captured: dict[str, Any] = {}

        def capture(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            captured["status"] = status_line
            captured["headers"] = headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status_code = int(captured["status"].split(" ", 1)[0])
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        mark = None
        if body and self.faults.take_malformed():
            body = body[: max(1, len(body) // 2)]
            if body[-1:] in (b"}", b"]", b'"'):
                body = body[:-1]
            mark = "malformed"
        headers.append(("Content-Length", str(len(body))))
        self.calls.record(self.clock(), method, path, status_code, mark)
        start_response(captured["status"], headers)
        return [body]


# ---------------------------------------------------------------------------
# Mounting


class Mount:
    """Serve WSGI apps under path prefixes, e.g. ``Mount({"/sandbox/goto": goto_app})``.

    The matched prefix moves from ``PATH_INFO`` to ``SCRIPT_NAME`` (so the mounted app
    builds its absolute URLs with it); other paths go to ``default`` or answer 404.
    """

    def __init__(self, mounts: dict[str, Callable], default: Callable | None = None) -> None:
        self.mounts = sorted(((p.rstrip("/"), app) for p, app in mounts.items()), key=lambda m: -len(m[0]))
        self.default = default

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                environ = dict(environ)
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + prefix
                environ["PATH_INFO"] = path[len(prefix):] or "/"
                return app(environ, start_response)
        if self.default is not None:
            return self.default(environ, start_response)
        return json_response({"message": "Not Found"}, 404)(environ, start_response)


# ---------------------------------------------------------------------------
# Stand-alone server


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(app: Callable, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = True) -> WSGIServer:
    """A threading wsgiref server for ``app`` (call ``serve_forever()`` or use a thread)."""
    handler = _QuietHandler if quiet else WSGIRequestHandler
    return _wsgiref_make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=handler)


def serve(app: Callable, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False) -> None:
    """Serve ``app`` until interrupted (Ctrl-C)."""
    with make_server(app, host, port, quiet=quiet) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
