"""``core.http.Client``: the one HTTP client every integration uses.

Per call: the budget is spent, credentials are prepared and applied, the request is
sent with a timeout, the outcome is audited (method, path template, status, latency),
and the retry table decides what happens to a failure. Error answers become
``ProviderError`` carrying the provider's own words and a clear sentence.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from liaison.core.http import keys, transports
from liaison.core.http.audit import CallAudit, CallRecord
from liaison.core.http.auth import Auth, NoAuth
from liaison.core.http.budget import Budget
from liaison.core.http.errors import STATUS_SENTENCES, ErrorInfo, MalformedResponse, ProviderError
from liaison.core.http.retry import DEFAULT_RETRY_TABLE, Action, Outcome, RetryRule, backoff, parse_retry_after

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
CODE_FIELDS = ("errorCode", "int_err_code", "error_code", "code", "error", "err", "faultcode")
DETAIL_FIELDS = ("description", "message", "msg", "error_description", "detail", "Message", "errorMessage",
                 "faultstring")
INCIDENT_FIELDS = ("incident", "incidentId", "requestId")


def _sleep(seconds: float) -> None:
    """Waiting between retries (a module function so tests can make it instant)."""
    time.sleep(seconds)


def default_error_parser(response: httpx.Response) -> ErrorInfo:
    """Read a provider's error code, message and incident id from common JSON shapes."""
    try:
        body = keys.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):  # {"error": {"code": ..., "message": ...}}
            body = {**body, **body["error"]}
        code = next((str(body[f]) for f in CODE_FIELDS if isinstance(body.get(f), (str, int)) and body.get(f) != ""), "")
        detail = next((str(body[f]) for f in DETAIL_FIELDS if isinstance(body.get(f), str) and body.get(f)), "")
        incident = next((str(body[f]) for f in INCIDENT_FIELDS if body.get(f)), "")
        return ErrorInfo(code=code, detail=detail, incident=incident)
    text = response.text.strip() if response.content else ""
    if text and "<html" in text[:200].lower():
        text = ""  # an HTML error page says nothing useful verbatim
    return ErrorInfo(detail=text[:300])


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    content: bytes
    method: str
    path: str
    provider: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def data(self) -> Any:
        """The JSON body, integers exact; a malformed body raises ``MalformedResponse``."""
        if not self.content.strip():
            return None
        try:
            return keys.loads(self.content)
        except ValueError as exc:
            raise MalformedResponse(
                self.provider,
                f"{self.provider} sent an answer that is not valid JSON; nothing was stored from it.",
                status=self.status,
                detail=f"{exc.__class__.__name__}: {exc}"[:300],
                method=self.method,
                path=self.path,
                retryable=True,
            ) from None

    def json(self) -> Any:
        return self.data


class Client:
    def __init__(
        self,
        base_url: str,
        *,
        provider: str,
        auth: Auth | None = None,
        budget: Budget | None = None,
        retry_table: Iterable[RetryRule] = DEFAULT_RETRY_TABLE,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        audit: CallAudit | None = None,
        error_parser: Callable[[httpx.Response], ErrorInfo] = default_error_parser,
        error_sentences: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
        max_inline_wait: float = 60.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.auth = auth or NoAuth()
        self.budget = budget
        self.retry_table = tuple(retry_table)
        self.audit = audit if audit is not None else CallAudit()
        self.error_parser = error_parser
        self.error_sentences = dict(error_sentences or {})
        self.sleep = sleep or _sleep
        self.max_inline_wait = max_inline_wait
        self._http = httpx.Client(
            transport=transport or transports.resolve(self.base_url),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": "Liaison", **dict(headers or {})},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public verbs ---------------------------------------------------------------
    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw) -> Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw) -> Response:
        return self.request("DELETE", path, **kw)

    def url_for(self, path: str, path_params: Mapping[str, Any] | None = None) -> str:
        filled = path.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        return f"{self.base_url}{filled}"

    def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        allow: Iterable[int] = (),
        idempotent: bool | None = None,
    ) -> Response:
        """Send a request; ``path`` is a template (``/webinars/{webinarKey}``) filled from
        ``path_params``, and the template is what the audit records.

        Statuses in ``allow`` are returned to the caller instead of raised (e.g. 409 for
        "already registered"). ``idempotent`` (default: by method) allows retrying a
        POST after a server error or a timeout.
        """
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        allowed = set(allow)
        url = self.url_for(path, path_params)
        body: bytes | None = None
        request_headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json, default=str).encode()
            request_headers.setdefault("Content-Type", "application/json")
        elif content is not None:
            body = content.encode() if isinstance(content, str) else content
        retries: dict[str, int] = {}
        attempt = 0
        while True:
            attempt += 1
            if self.budget is not None:
                self.budget.acquire()
            self.auth.prepare()
            request = self._http.build_request(
                method, url, params=_clean_params(params), content=body, data=data, headers=request_headers
            )
            self.auth.apply(request)
            started = time.perf_counter()
            response = None
            error: BaseException | None = None
            try:
                response = self._http.send(request)
                response.read()
            except httpx.HTTPError as exc:
                error = exc
            latency = (time.perf_counter() - started) * 1000
            status = response.status_code if response is not None else None
            self.audit.record(
                CallRecord(
                    method=method,
                    path=path,
                    status=status,
                    latency_ms=latency,
                    error=type(error).__name__ if error else "",
                    attempt=attempt,
                )
            )
            if response is not None and (response.status_code < 400 or response.status_code in allowed):
                return Response(status=response.status_code, headers=response.headers, content=response.content,
                                method=method, path=path, provider=self.provider)
            outcome = Outcome(
                method=method,
                status=status,
                exception=error,
                auth_expired=response is not None and self.auth.is_expired(response),
                retry_after=parse_retry_after(response.headers.get("Retry-After")) if response is not None else None,
                idempotent=idempotent,
            )
            rule = next((r for r in self.retry_table if r.matches(outcome)), None)
            if rule is None or retries.get(rule.name, 0) >= rule.max_retries:
                raise self._error(method, path, response, error, outcome, rule)
            retries[rule.name] = retries.get(rule.name, 0) + 1
            if rule.action is Action.RENEW_AUTH:
                if not self.auth.renew(request):
                    raise self._error(method, path, response, error, outcome, None)
                continue
            if rule.action is Action.RETRY_AFTER and outcome.retry_after is not None:
                wait = outcome.retry_after
            else:
                wait = backoff(rule, retries[rule.name])
            if wait > self.max_inline_wait:
                # Too long to hold a worker: fail as retryable, the job retries later.
                raise self._error(method, path, response, error, outcome, rule, retry_after=wait)
            logger.info("%s %s: %s, retry %d in %.1f s", method, path, rule.name, retries[rule.name], wait)
            self.sleep(wait)

    def _error(
        self,
        method: str,
        path: str,
        response: httpx.Response | None,
        error: BaseException | None,
        outcome: Outcome,
        rule: RetryRule | None,
        retry_after: float | None = None,
    ) -> ProviderError:
        retryable = rule is not None and rule.action is not Action.RENEW_AUTH
        if response is None:
            kind = "did not answer in time" if isinstance(error, httpx.TimeoutException) else "could not be reached"
            return ProviderError(
                self.provider,
                f"{self.provider} {kind}.",
                detail=f"{type(error).__name__}: {error}"[:300] if error else "",
                method=method,
                path=path,
                retryable=True,
                retry_after=retry_after,
            )
        info = self.error_parser(response)
        status = response.status_code
        sentence = self.error_sentences.get(info.code) if info.code else None
        if sentence is None:
            template = STATUS_SENTENCES.get(status)
            if template is None:
                template = (
                    "{provider}'s server failed to handle the request." if status >= 500
                    else "{provider} refused the request."
                )
            sentence = template.format(provider=self.provider)
        return ProviderError(
            self.provider,
            sentence.format(provider=self.provider),
            status=status,
            code=info.code,
            detail=info.detail,
            incident=info.incident,
            method=method,
            path=path,
            retryable=retryable or status == 429 or status >= 500,
            retry_after=retry_after if retry_after is not None else outcome.retry_after,
        )


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    cleaned = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        cleaned[key] = value
    return cleaned
