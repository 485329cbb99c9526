"""The GoTo sandbox: router, authentication, dispatch and the Python control API."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..common import (
    CallLog,
    FaultMiddleware,
    Faults,
    FaultSettings,
    HTTPError,
    JSONBodyError,
    OffsetClock,
    Request,
    Response,
    Router,
    json_response,
)
from . import assist, control, meeting, oauth, pages, training, webhooks, webinar
from .base import bad_request, forbidden, gateway_fault_body, invalid_token_response, not_found_route, product_error
from .oauth import DEMO_CLIENT, OAuthClient, OAuthStore
from .seed import SeedConfig, populate
from .state import G2A_CAPABILITIES, GoToState, Organizer

log = logging.getLogger("liaison.sandbox.goto")


@dataclass
class SandboxSettings:
    """Behaviour switches of the sandbox (changeable at run time via ``/_sandbox/settings``)."""

    oauth_clients: list[OAuthClient] = field(default_factory=lambda: [DEMO_CLIENT])
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600
    auth_code_ttl: int = 600
    # GoToTraining registrant caches "can take as long as two hours": a registrant created
    # through the API shows in the registrant list / get only after this many seconds.
    g2t_registrant_lag_seconds: float = 0.0
    # Webhook callback URLs must be https; plain http is tolerated for these hosts.
    webhook_https_only: bool = True
    webhook_http_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", "testserver")
    # GoTo validates a callback URL with a GET that must answer 200; off by default
    # (tests have no network), on to emulate it through ``probe``.
    validate_callback_urls: bool = False
    delivery_timeout: float = 2.0
    # Deliver webhooks from a background thread instead of the API call's thread (after the
    # answer is built either way). Useful when the receiver calls the sandbox back through a
    # server with few workers; tests keep the default for determinism.
    background_deliveries: bool = False
    # Base URL used for links built outside an HTTP request (Python helpers, webhooks
    # fired by helpers) until the first request tells the sandbox where it is mounted.
    public_base_url: str = "http://sandbox"
    # When set, the /_sandbox control group requires the header X-Sandbox-Token.
    control_token: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "oauth_clients": [c.as_dict() for c in self.oauth_clients],
            "access_token_ttl": self.access_token_ttl,
            "refresh_token_ttl": self.refresh_token_ttl,
            "auth_code_ttl": self.auth_code_ttl,
            "g2t_registrant_lag_seconds": self.g2t_registrant_lag_seconds,
            "webhook_https_only": self.webhook_https_only,
            "webhook_http_hosts": list(self.webhook_http_hosts),
            "validate_callback_urls": self.validate_callback_urls,
            "delivery_timeout": self.delivery_timeout,
            "background_deliveries": self.background_deliveries,
            "public_base_url": self.public_base_url,
            "control_token_set": self.control_token is not None,
        }


class GoToSandbox:
    """A stateful emulator of GoTo's public APIs, usable as a WSGI application.

    ``GoToSandbox(seed=0, config=SeedConfig(...), clock=..., deliver=...)``; the instance
    is a WSGI callable (``sandbox(environ, start_response)``, same as ``.wsgi_app``).
    """

    def __init__(
        self,
        seed: int = 0,
        config: SeedConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        deliver: webhooks.Deliver | None = None,
        *,
        settings: SandboxSettings | None = None,
        faults: FaultSettings | None = None,
        probe: Callable[[str], int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock if isinstance(clock, OffsetClock) else OffsetClock(clock)
        self.settings = settings or SandboxSettings()
        self.seed = seed
        self.config = config or SeedConfig()
        self.faults = Faults(faults)
        self.calls = CallLog()
        self._lock = threading.RLock()
        self.oauth = OAuthStore(self)
        for client in self.settings.oauth_clients:
            self.oauth.add_client(client)
        self.webhooks = webhooks.WebhookDispatcher(self, deliver)
        self.probe = probe or webhooks.urllib_probe(self.settings.delivery_timeout)
        self.base_url = self.settings.public_base_url.rstrip("/")
        self.router = Router()
        for module in (oauth, webinar, webhooks, training, meeting, assist, pages, control):
            module.register(self, self.router)
        self.faults.on_expire_tokens(self._expire_tokens)
        self.wsgi_app = FaultMiddleware(
            self._dispatch, self.faults, self.calls, self.clock, fault_body=gateway_fault_body, sleep=sleep
        )
        self.state: GoToState
        self.seeded_at: datetime
        self.reset()

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def _dispatch(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        req = Request(environ)
        self.base_url = req.base_url
        match, allowed = self.router.match(req.method, req.path)
        if match is None:
            if allowed:
                resp = json_response(
                    {"errorCode": "METHOD_NOT_ALLOWED", "message": f"{req.method} is not supported on {req.path}"},
                    405,
                    headers=[("Allow", ", ".join(sorted(set(allowed))))],
                )
            else:
                resp = not_found_route(req.path)
            return resp(environ, start_response)
        resp = self.run(lambda: self._handle(req, match))
        return resp(environ, start_response)

    def _handle(self, req: Request, match: Any) -> Response:
        route = match.route
        try:
            if route.options.get("auth", True):
                token = self.oauth.validate(oauth.bearer_token(req))
                if token is None or token.organizer_key not in self.state.organizers:
                    return invalid_token_response()
                req.context["token"] = token
                req.context["user"] = self.state.organizers[token.organizer_key]
            return route.handler(req, **match.params)
        except HTTPError as exc:
            return exc.response
        except JSONBodyError as exc:
            return bad_request(str(exc)).response
        except Exception:  # noqa: BLE001 - answer like a server, log for the developer
            log.error("GoTo sandbox: error in %s %s\n%s", req.method, req.path, traceback.format_exc())
            return product_error(500, "InternalServerError", "An unexpected error occurred.").response

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` under the state lock; deliver the webhooks it queued afterwards."""
        opened = self.webhooks.begin()
        try:
            with self._lock:
                result = fn()
        finally:
            jobs = self.webhooks.end() if opened else []
        if jobs:
            if self.settings.background_deliveries:
                threading.Thread(target=self.webhooks.flush, args=(jobs,), name="goto-sandbox-webhooks",
                                 daemon=True).start()
            else:
                self.webhooks.flush(jobs)
        return result

    @property
    def deliveries(self) -> webhooks.DeliveryLog:
        """The log of webhook and G2A callback deliveries (``.all()``, ``.clear()``)."""
        return self.webhooks.log

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        return self.clock()

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the sandbox clock forward (token expiry, events becoming past, ...)."""
        return self.clock.advance(seconds)

    # ------------------------------------------------------------------ state
    def reset(self, seed: int | None = None, config: SeedConfig | None = None) -> GoToState:
        """Replace the state with freshly seeded data (same seed and config by default).

        OAuth clients are kept; tokens whose user still exists keep working (with the
        same seed the users have the same keys).
        """

        def do() -> GoToState:
            if seed is not None:
                self.seed = seed
            if config is not None:
                self.config = config
            state = GoToState(self.seed)
            self.seeded_at = self.now()
            populate(state, self.config, self.seeded_at)
            self.state = state
            self.webhooks.log.clear()
            for store in (self.oauth.access, self.oauth.refresh, self.oauth.codes):
                for key in [k for k, v in store.items() if v.organizer_key not in state.organizers]:
                    del store[key]
            return state

        return self.run(do)

    def _expire_tokens(self) -> int:
        return self.run(self.oauth.expire_all)

    # ------------------------------------------------------------------ helpers for handlers
    def url(self, path: str) -> str:
        """Absolute URL below the mount point (as last seen in a request)."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def default_organizer(self) -> Organizer:
        return next(iter(self.state.organizers.values()))

    def organizer(self, ref: Organizer | int | str | None = None) -> Organizer:
        """An organizer by object, key, e-mail, or the default (first) one."""
        if ref is None:
            return self.default_organizer()
        if isinstance(ref, Organizer):
            return ref
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.state.organizers[int(ref)]
        return self.state.organizers[self.state.organizers_by_email[ref.lower()]]

    def path_organizer(self, req: Request, organizer_key: int) -> Organizer:
        """The organizer named in the path, if the caller may act for them."""
        user: Organizer = req.context["user"]
        if organizer_key == user.organizer_key:
            return user
        other = self.state.organizers.get(organizer_key)
        if other is not None and user.is_admin and other.account_key == user.account_key:
            return other
        raise forbidden(f"The caller may not access data of organizer {organizer_key}.")

    def path_account(self, req: Request, account_key: int) -> int:
        user: Organizer = req.context["user"]
        if account_key != user.account_key:
            raise forbidden(f"The caller is not a member of account {account_key}.")
        return account_key

    def record_email(self, kind: str, to: str, subject: str, **data: Any) -> None:
        """Keep the e-mails GoTo would send (confirmation, cancellation) in the outbox."""
        self.state.outbox.append({"at": self.now(), "kind": kind, "to": to, "subject": subject, **data})

    # ------------------------------------------------------------------ Python control API
    def add_oauth_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None, name: str = "Application"
    ) -> OAuthClient:
        client = OAuthClient(client_id, client_secret, tuple(redirect_uris) if redirect_uris is not None else None,
                             name)
        with self._lock:
            self.settings.oauth_clients = [c for c in self.settings.oauth_clients if c.client_id != client_id]
            self.settings.oauth_clients.append(client)
            return self.oauth.add_client(client)

    def mint_code(
        self,
        client_id: str = DEMO_CLIENT.client_id,
        redirect_uri: str | None = None,
        user: Organizer | int | str | None = None,
    ) -> str:
        """An authorization code, as if the user had clicked Allow on the consent page."""
        return self.run(lambda: self.oauth.mint_code(client_id, redirect_uri, self.organizer(user).organizer_key))

    def mint_token(self, user: Organizer | int | str | None = None, client_id: str = DEMO_CLIENT.client_id) -> dict:
        """A token response (access + refresh) for ``user`` without the browser dance."""
        return self.run(lambda: self.oauth.issue(client_id, self.organizer(user).organizer_key))

    def set_g2a_capability(self, account_key: int | None, capability: str, enabled: bool = True) -> set[str]:
        """Turn a GoToAssist sandbox-extension capability on or off for an account."""
        if capability not in G2A_CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; known: {', '.join(G2A_CAPABILITIES)}")

        def do() -> set[str]:
            account = self.state.accounts[account_key or self.default_organizer().account_key]
            if enabled:
                account.g2a_capabilities.add(capability)
            else:
                account.g2a_capabilities.discard(capability)
            return set(account.g2a_capabilities)

        return self.run(do)

    # Product helpers live in their modules; they are bound here for a single entry point.
    add_webinar = webinar.add_webinar
    add_registrant = webinar.add_registrant
    simulate_session = webinar.simulate_session
    add_training = training.add_training
    add_training_registrant = training.add_training_registrant
    simulate_training_session = training.simulate_training_session
    add_meeting = meeting.add_meeting
    simulate_meeting_session = meeting.simulate_meeting_session
    add_assist_session = assist.add_assist_session
    start_assist_session = assist.start_assist_session
    end_assist_session = assist.end_assist_session
    rate_assist_session = assist.rate_assist_session


def create_app(
    seed: int = 0,
    config: SeedConfig | None = None,
    clock: Callable[[], datetime] | None = None,
    deliver: webhooks.Deliver | None = None,
    **kwargs: Any,
) -> GoToSandbox:
    """A ready-to-serve :class:`GoToSandbox` (a WSGI callable)."""
    return GoToSandbox(seed=seed, config=config, clock=clock, deliver=deliver, **kwargs)
