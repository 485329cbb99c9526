"""Authentication plug-ins for ``core.http.Client``.

Three styles, one contract (``Auth``):
- ``OAuth2Auth``: bearer tokens from the authorization-code flow, refreshed before
  expiry and once after an "expired token" answer, single-flight across threads
  (a lock) and processes (the token row is locked while refreshing), tokens stored
  encrypted (``core.models.Credential``);
- ``BasicAuth``: HTTP Basic (dotdigital);
- ``SessionAuth``: a session obtained by a login call and attached to each request
  (INES's SOAP ``SessionID`` header); re-login once when the provider says it expired.
"""

from __future__ import annotations

import base64
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from django.db import transaction
from django.utils import timezone

from liaison.core.http import transports
from liaison.core.http.errors import ProviderError

# authlib prefers the httpx2 fork and warns when it runs on httpx (which works): its
# module installs an "always" filter, so this targeted filter must come after it.
warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning)
from authlib.integrations.base_client.errors import OAuthError  # noqa: E402
from authlib.integrations.httpx_client import OAuth2Client  # noqa: E402


class Auth:
    """The contract: prepare before a call, apply to a request, recognise expiry, renew."""

    def prepare(self) -> None:
        """Called before each request (e.g. refresh a token that is about to expire)."""

    def apply(self, request: httpx.Request) -> None:
        """Add credentials to the request."""

    def is_expired(self, response: httpx.Response) -> bool:
        """Does this answer mean "your credentials expired, renew and try again"?"""
        return response.status_code == 401

    def renew(self, request: httpx.Request) -> bool:
        """Renew the credentials after an expiry answer. True if the call may be retried."""
        return False


class NoAuth(Auth):
    pass


class BasicAuth(Auth):
    def __init__(self, username: str, password: str):
        raw = f"{username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode()

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = self._header


class SessionAuth(Auth):
    """A login-obtained session attached to each request (hook for SOAP sessions).

    ``login()`` returns the session id; ``attach(request, session)`` puts it on a request
    (for SOAP, the client usually builds the envelope with ``current()`` instead);
    ``expired(response)`` recognises "session expired" answers.
    """

    def __init__(
        self,
        login: Callable[[], str],
        attach: Callable[[httpx.Request, str], None] | None = None,
        expired: Callable[[httpx.Response], bool] | None = None,
    ):
        self._login = login
        self._attach = attach
        self._expired = expired or (lambda response: response.status_code == 401)
        self._session: str | None = None
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            if self._session is None:
                self._session = self._login()
            return self._session

    def apply(self, request: httpx.Request) -> None:
        session = self.current()
        request.extensions["liaison_session"] = session
        if self._attach:
            self._attach(request, session)

    def is_expired(self, response: httpx.Response) -> bool:
        return self._expired(response)

    def renew(self, request: httpx.Request) -> bool:
        stale = request.extensions.get("liaison_session")
        with self._lock:
            if self._session is None or stale is None or self._session == stale:
                self._session = self._login()
        return True


@dataclass
class Token:
    access_token: str
    refresh_token: str = ""
    expires_at: datetime | None = None
    token_type: str = "Bearer"
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def expiring(self, skew: float = 60.0, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - timedelta(seconds=skew) <= (now or timezone.now())

    @classmethod
    def from_response(cls, data: dict[str, Any], previous: Token | None = None, now: datetime | None = None) -> Token:
        """Build a token from a token-endpoint answer.

        A refresh answer without a refresh token keeps the previous one; with one
        (rotation), the new one replaces it.
        """
        now = now or timezone.now()
        expires_in = data.get("expires_in")
        expires_at = now + timedelta(seconds=int(expires_in)) if expires_in not in (None, "") else None
        known = {"access_token", "refresh_token", "expires_in", "expires_at", "token_type", "scope"}
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or (previous.refresh_token if previous else "")),
            expires_at=expires_at,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=str(data.get("scope") or (previous.scope if previous else "")),
            extra={k: v for k, v in data.items() if k not in known},
        )


class TokenStore(Protocol):
    def load(self) -> Token | None: ...

    def save(self, token: Token) -> None: ...

    def locked(self) -> Any:
        """Context manager: hold the cross-process refresh lock, yield the freshest token."""


class MemoryTokenStore:
    def __init__(self, token: Token | None = None):
        self.token = token
        self._lock = threading.Lock()

    def load(self) -> Token | None:
        return self.token

    def save(self, token: Token) -> None:
        self.token = token

    @contextmanager
    def locked(self) -> Iterator[Token | None]:
        with self._lock:
            yield self.token


class DbTokenStore:
    """Tokens in ``core.models.Credential`` (encrypted), locked per row while refreshing."""

    def __init__(self, key: str):
        self.key = key

    def load(self) -> Token | None:
        from liaison.core.models import Credential

        row = Credential.objects.filter(key=self.key).first()
        return self._token(row)

    @staticmethod
    def _token(row) -> Token | None:
        if row is None or not row.access_token:
            return None
        return Token(
            access_token=row.access_token,
            refresh_token=row.refresh_token,
            expires_at=row.expires_at,
            token_type=row.token_type,
            scope=row.scope,
            extra=row.extra or {},
        )

    def save(self, token: Token) -> None:
        from liaison.core.models import Credential

        Credential.objects.update_or_create(
            key=self.key,
            defaults={
                "access_token": token.access_token,
                "refresh_token": token.refresh_token,
                "expires_at": token.expires_at,
                "token_type": token.token_type,
                "scope": token.scope,
                "extra": token.extra,
            },
        )

    def delete(self) -> None:
        from liaison.core.models import Credential

        Credential.objects.filter(key=self.key).delete()

    @contextmanager
    def locked(self) -> Iterator[Token | None]:
        from liaison.core.models import Credential

        # PostgreSQL: SELECT ... FOR UPDATE holds the row; SQLite: the IMMEDIATE
        # transaction holds the database's write lock. Either way one refresher at a time.
        with transaction.atomic():
            row = Credential.objects.select_for_update().filter(key=self.key).first()
            yield self._token(row)


_refresh_locks: dict[str, threading.Lock] = {}
_refresh_locks_guard = threading.Lock()


def _thread_lock(name: str) -> threading.Lock:
    with _refresh_locks_guard:
        return _refresh_locks.setdefault(name, threading.Lock())


class OAuth2Auth(Auth):
    """Bearer tokens with single-flight refresh (authorization-code flow)."""

    def __init__(
        self,
        store: TokenStore,
        *,
        provider: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        token_auth_method: str = "client_secret_basic",
        transport: httpx.BaseTransport | None = None,
        expired: Callable[[httpx.Response], bool] | None = None,
        skew: float = 60.0,
        lock_name: str | None = None,
        timeout: float = 30.0,
    ):
        self.store = store
        self.provider = provider
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_auth_method = token_auth_method
        self.transport = transport
        self._expired = expired
        self.skew = skew
        self.timeout = timeout
        self._lock = _thread_lock(lock_name or f"{provider}:{token_url}:{client_id}:{id(store)}")
        self.refresh_count = 0

    def _token(self) -> Token:
        token = self.store.load()
        if token is None:
            raise ProviderError(
                self.provider,
                f"{self.provider} is not connected: open the integration's settings and connect the account.",
                code="NotConnected",
            )
        return token

    def prepare(self) -> None:
        token = self._token()
        if token.expiring(self.skew) and token.refresh_token:
            self._refresh(stale_access=token.access_token)

    def apply(self, request: httpx.Request) -> None:
        token = self._token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.extensions["liaison_access_token"] = token.access_token

    def is_expired(self, response: httpx.Response) -> bool:
        if self._expired is not None:
            return self._expired(response)
        return response.status_code == 401

    def renew(self, request: httpx.Request) -> bool:
        return self._refresh(stale_access=request.extensions.get("liaison_access_token"))

    def _refresh(self, stale_access: str | None) -> bool:
        with self._lock, self.store.locked() as current:
            if current is None:
                self._token()  # raises "not connected"
            if current.access_token != stale_access and not current.expiring(self.skew):
                return True  # someone else refreshed while we waited
            if not current.refresh_token:
                raise ProviderError(
                    self.provider,
                    f"The {self.provider} access token expired and there is no refresh token: reconnect the account.",
                    code="TokenExpired",
                )
            data = self.token_request(grant_type="refresh_token", refresh_token=current.refresh_token)
            self.store.save(Token.from_response(data, previous=current))
            self.refresh_count += 1
            return True

    def _oauth_client(self, redirect_uri: str | None = None, scope: str | None = None) -> OAuth2Client:
        return OAuth2Client(
            self.client_id,
            self.client_secret,
            token_endpoint_auth_method=self.token_auth_method,
            redirect_uri=redirect_uri,
            scope=scope,
            transport=self.transport or transports.resolve(self.token_url),
            timeout=self.timeout,
        )

    def token_request(self, **params: str) -> dict[str, Any]:
        """POST to the token endpoint; provider refusals become ProviderError."""
        client = self._oauth_client(redirect_uri=params.get("redirect_uri"))
        try:
            with client:
                if params.get("grant_type") == "refresh_token":
                    token = client.refresh_token(self.token_url, refresh_token=params["refresh_token"])
                else:
                    token = client.fetch_token(self.token_url, **params)
        except OAuthError as exc:
            description = exc.description or ""
            raise ProviderError(
                self.provider,
                f"{self.provider} refused to issue a token; reconnect the account.",
                code=exc.error or "",
                detail=description,
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                self.provider,
                f"{self.provider}'s sign-in service could not be reached.",
                detail=str(exc),
                retryable=True,
            ) from None
        except ValueError as exc:  # a non-JSON answer from the token endpoint
            raise ProviderError(
                self.provider, f"{self.provider}'s sign-in service gave an unreadable answer.", detail=str(exc)
            ) from None
        return dict(token)

    def authorization_url(self, authorize_url: str, redirect_uri: str, state: str, scope: str = "") -> str:
        url, _ = self._oauth_client(redirect_uri=redirect_uri, scope=scope or None).create_authorization_url(
            authorize_url, state=state
        )
        return url

    def exchange_code(self, code: str, redirect_uri: str) -> Token:
        data = self.token_request(grant_type="authorization_code", code=code, redirect_uri=redirect_uri)
        token = Token.from_response(data)
        self.store.save(token)
        return token
