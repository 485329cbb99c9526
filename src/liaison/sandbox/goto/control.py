"""The ``/_sandbox`` control group (not part of GoTo's API; never faulted nor logged).

=======================================  ==============================================
``GET    /_sandbox``                     seed, config, counts, clock, users, settings
``POST   /_sandbox/reset``               back to the initial state: re-seed (same seed and
                                         config), clear faults, call log, deliveries and
                                         the clock offset
``POST   /_sandbox/seed``                re-seed with ``{"seed": n, <SeedConfig fields>}``
``GET    /_sandbox/users``               organizers (keys as strings) and accounts
``GET|PUT|PATCH|DELETE /_sandbox/faults``  read / change (partial) / reset fault settings
``POST   /_sandbox/faults/expire-tokens``  make every current access token expired
``GET|DELETE /_sandbox/calls``           call statistics (``?last=N`` recent entries) / reset
``GET|DELETE /_sandbox/deliveries``      webhook and G2A callback delivery log / clear
``GET|DELETE /_sandbox/outbox``          e-mails GoTo would have sent / clear
``GET|POST /_sandbox/clock``             read; ``{"advance": seconds}``, ``{"now": iso}``,
                                         ``{"reset": true}``
``GET|PATCH /_sandbox/settings``         behaviour switches, OAuth clients, G2A capabilities
``POST   /_sandbox/oauth/token``         mint a token response ``{"user": email|key}``
=======================================  ==============================================

When ``SandboxSettings.control_token`` is set, every call needs ``X-Sandbox-Token``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..common import HTTPError, Request, Response, Router, json_response, no_content
from .base import iso_ms, iso_z, parse_time
from .oauth import OAuthError
from .seed import SeedConfig
from .state import G2A_CAPABILITIES

if TYPE_CHECKING:
    from .app import GoToSandbox

C = "/_sandbox"


def _error(status: int, message: str) -> HTTPError:
    return HTTPError(json_response({"error": message}, status))


def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        data = req.json()
    except ValueError as exc:
        raise _error(400, str(exc)) from None
    if not isinstance(data, dict):
        raise _error(400, "a JSON object is expected")
    return data


def register(sb: GoToSandbox, router: Router) -> None:
    def guard(handler: Any) -> Any:
        def wrapped(req: Request, **params: Any) -> Response:
            token = sb.settings.control_token
            if token is not None and req.header("x-sandbox-token") != token:
                raise _error(401, "X-Sandbox-Token is required for the sandbox control API")
            return handler(req, **params)

        return wrapped

    def users_json() -> dict[str, Any]:
        state = sb.state
        return {
            "accounts": [
                {"accountKey": str(a.account_key), "name": a.name, "g2aCapabilities": sorted(a.g2a_capabilities)}
                for a in state.accounts.values()
            ],
            "organizers": [
                {"organizerKey": str(o.organizer_key), "accountKey": str(o.account_key), "email": o.email,
                 "firstName": o.first_name, "lastName": o.last_name, "isAdmin": o.is_admin,
                 "products": list(o.products)}
                for o in state.organizers.values()
            ],
        }

    def info(req: Request) -> Response:
        return json_response({
            "product": "goto",
            "seed": sb.seed,
            "config": sb.config.as_dict(),
            "seededAt": iso_z(sb.seeded_at),
            "now": iso_ms(sb.now()),
            "clockOffsetSeconds": sb.clock.offset.total_seconds(),
            "baseUrl": req.base_url,
            "counts": sb.state.counts(),
            "faults": sb.faults.settings.as_dict(),
            "settings": sb.settings.as_dict(),
            **users_json(),
        })

    def reset(req: Request) -> Response:
        started = time.perf_counter()
        sb.clock.reset()
        sb.faults.reset()
        sb.calls.reset()
        sb.reset()
        return json_response({"seed": sb.seed, "counts": sb.state.counts(),
                              "seconds": round(time.perf_counter() - started, 3)})

    def seed(req: Request) -> Response:
        data = _body(req)
        seed_value = data.pop("seed", sb.seed)
        try:
            config = SeedConfig.from_dict(data)
            seed_value = int(seed_value)
        except (TypeError, ValueError) as exc:
            raise _error(400, str(exc)) from None
        started = time.perf_counter()
        sb.reset(seed=seed_value, config=config)
        return json_response({"seed": sb.seed, "config": config.as_dict(), "counts": sb.state.counts(),
                              "seconds": round(time.perf_counter() - started, 3)})

    def users(req: Request) -> Response:
        return json_response(users_json())

    def get_faults(req: Request) -> Response:
        return json_response(sb.faults.settings.as_dict())

    def set_faults(req: Request) -> Response:
        try:
            settings = sb.faults.update_from_json(_body(req))
        except (TypeError, ValueError) as exc:
            raise _error(400, str(exc)) from None
        return json_response(settings.as_dict())

    def reset_faults(req: Request) -> Response:
        return json_response(sb.faults.reset().as_dict())

    def expire_tokens(req: Request) -> Response:
        return json_response({"expired": sb.faults.expire_tokens()})

    def calls(req: Request) -> Response:
        try:
            last = int(req.arg("last", "50") or 50)
        except ValueError:
            raise _error(400, "last must be an integer") from None
        return json_response(sb.calls.stats(last=max(0, last)))

    def reset_calls(req: Request) -> Response:
        sb.calls.reset()
        return no_content(204)

    def deliveries(req: Request) -> Response:
        return json_response({"deliveries": [d.as_dict() for d in sb.webhooks.log.all()]})

    def clear_deliveries(req: Request) -> Response:
        sb.webhooks.log.clear()
        return no_content(204)

    def outbox(req: Request) -> Response:
        return json_response({"emails": [{**m, "at": iso_ms(m["at"])} for m in sb.state.outbox]})

    def clear_outbox(req: Request) -> Response:
        sb.state.outbox.clear()
        return no_content(204)

    def clock_json() -> dict[str, Any]:
        return {"now": iso_ms(sb.now()), "offsetSeconds": sb.clock.offset.total_seconds()}

    def get_clock(req: Request) -> Response:
        return json_response(clock_json())

    def set_clock(req: Request) -> Response:
        data = _body(req)
        try:
            if data.get("reset"):
                sb.clock.reset()
            if "now" in data:
                sb.clock.set(parse_time(data["now"]))
            if "advance" in data:
                sb.clock.advance(float(data["advance"]))
        except (TypeError, ValueError) as exc:
            raise _error(400, str(exc)) from None
        return json_response(clock_json())

    def get_settings(req: Request) -> Response:
        data = sb.settings.as_dict()
        data["g2a_capabilities"] = {str(a.account_key): sorted(a.g2a_capabilities) for a in sb.state.accounts.values()}
        return json_response(data)

    def patch_settings(req: Request) -> Response:
        data = _body(req)
        s = sb.settings
        try:
            for name in ("access_token_ttl", "refresh_token_ttl", "auth_code_ttl"):
                if name in data:
                    setattr(s, name, int(data[name]))
            if "g2t_registrant_lag_seconds" in data:
                s.g2t_registrant_lag_seconds = float(data["g2t_registrant_lag_seconds"])
            if "delivery_timeout" in data:
                s.delivery_timeout = float(data["delivery_timeout"])
            for name in ("webhook_https_only", "validate_callback_urls", "background_deliveries"):
                if name in data:
                    setattr(s, name, bool(data[name]))
            if "webhook_http_hosts" in data:
                s.webhook_http_hosts = tuple(str(h) for h in data["webhook_http_hosts"])
            if "public_base_url" in data:
                s.public_base_url = str(data["public_base_url"]).rstrip("/")
                sb.base_url = s.public_base_url
            for client in data.get("oauth_clients") or []:
                uris = client.get("redirect_uris")
                sb.add_oauth_client(str(client["client_id"]), str(client["client_secret"]),
                                    None if uris is None else [str(u) for u in uris],
                                    str(client.get("name", "Application")))
            for account_ref, capabilities in (data.get("g2a_capabilities") or {}).items():
                unknown = set(capabilities) - set(G2A_CAPABILITIES)
                if unknown:
                    raise ValueError(f"unknown capabilities: {', '.join(sorted(unknown))}")
                key = sb.default_organizer().account_key if account_ref == "default" else int(account_ref)
                if key not in sb.state.accounts:
                    raise ValueError(f"unknown account {account_ref}")
                sb.state.accounts[key].g2a_capabilities = set(capabilities)
        except (KeyError, TypeError, ValueError) as exc:
            raise _error(400, str(exc)) from None
        return get_settings(req)

    def mint(req: Request) -> Response:
        data = _body(req)
        try:
            user = sb.organizer(data.get("user"))
        except (KeyError, ValueError):
            raise _error(400, f"unknown user {data.get('user')!r}") from None
        try:
            return json_response(sb.oauth.issue(str(data.get("client_id") or "liaison-demo"), user.organizer_key))
        except OAuthError as exc:
            raise _error(400, exc.description) from None

    routes = [
        ("GET", C, info),
        ("POST", f"{C}/reset", reset),
        ("POST", f"{C}/seed", seed),
        ("GET", f"{C}/users", users),
        ("GET", f"{C}/faults", get_faults),
        ("PUT", f"{C}/faults", set_faults),
        ("PATCH", f"{C}/faults", set_faults),
        ("POST", f"{C}/faults", set_faults),
        ("DELETE", f"{C}/faults", reset_faults),
        ("POST", f"{C}/faults/expire-tokens", expire_tokens),
        ("GET", f"{C}/calls", calls),
        ("DELETE", f"{C}/calls", reset_calls),
        ("GET", f"{C}/deliveries", deliveries),
        ("DELETE", f"{C}/deliveries", clear_deliveries),
        ("GET", f"{C}/outbox", outbox),
        ("DELETE", f"{C}/outbox", clear_outbox),
        ("GET", f"{C}/clock", get_clock),
        ("POST", f"{C}/clock", set_clock),
        ("GET", f"{C}/settings", get_settings),
        ("PATCH", f"{C}/settings", patch_settings),
        ("PUT", f"{C}/settings", patch_settings),
        ("POST", f"{C}/oauth/token", mint),
    ]
    for method, template, handler in routes:
        router.add(method, template, guard(handler), auth=False)

