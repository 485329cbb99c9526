"""OAuth 2.0 (authentication.logmeininc.com) and identity (``/identity/v1/Users/me``).

* ``GET /oauth/authorize``: an HTML consent page (pick the GoTo user, Allow / Deny) that
  redirects to ``redirect_uri`` with ``code`` and ``state``. ``sandbox_auto_approve=1``
  (with optional ``sandbox_user=<email or organizerKey>``) skips the page.
* ``POST /oauth/token``: ``application/x-www-form-urlencoded``, client authentication by
  HTTP Basic ``client_id:client_secret`` (form fields ``client_id``/``client_secret`` are
  accepted too), grants ``authorization_code`` and ``refresh_token``. Access tokens last
  3600 s; every refresh returns a new refresh token and the used one stops working.
  The response has ``access_token, token_type, refresh_token, expires_in, scope,
  principal`` and no organizer or account key.
* ``GET /identity/v1/Users/me``: the SCIM user (``id`` = organizerKey,
  ``accounts[].value`` = accountKey).
* ``GET /admin/rest/v1/me``: Admin API "me" (admins only).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from ..common import Request, Response, Router, html_response, json_response, redirect
from .base import iso_ms
from .state import Organizer

if TYPE_CHECKING:
    from .app import GoToSandbox

DEFAULT_SCOPE = "collab: identity:scim.me"


@dataclass
class OAuthClient:
    """A registered OAuth client. ``redirect_uris=None`` accepts any redirect URI."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] | None = None
    name: str = "Sandbox application"
    scope: str = DEFAULT_SCOPE

    def allows(self, redirect_uri: str) -> bool:
        return self.redirect_uris is None or redirect_uri in self.redirect_uris

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris) if self.redirect_uris is not None else None,
            "name": self.name,
            "scope": self.scope,
        }


DEMO_CLIENT = OAuthClient("liaison-demo", "liaison-demo-secret", None, "Liaison (demo)")


@dataclass(slots=True)
class AccessToken:
    token: str
    organizer_key: int
    client_id: str
    scope: str
    expires_at: datetime


@dataclass(slots=True)
class RefreshToken:
    token: str
    organizer_key: int
    client_id: str
    scope: str
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(slots=True)
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str | None
    organizer_key: int
    scope: str
    expires_at: datetime
    used_at: datetime | None = None


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        resp = json_response({"error": self.error, "error_description": self.description}, self.status)
        if self.status == 401:
            resp.set_header("WWW-Authenticate", 'Basic realm="oauth"')
        return resp


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OAuthStore:
    """Clients, authorization codes and tokens."""

    def __init__(self, sandbox: GoToSandbox) -> None:
        self.sb = sandbox
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    # -- clients -----------------------------------------------------------
    def add_client(self, client: OAuthClient) -> OAuthClient:
        self.clients[client.client_id] = client
        return client

    def client(self, client_id: str) -> OAuthClient:
        try:
            return self.clients[client_id]
        except KeyError:
            raise OAuthError("invalid_client", f"Unknown client_id '{client_id}'.", 401) from None

    def authenticate_client(self, req: Request, form: dict[str, str]) -> OAuthClient:
        header = req.header("authorization") or ""
        client_id = secret = None
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
                client_id, _, secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Malformed Basic authorization header.", 401) from None
        elif form.get("client_id"):
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if not client_id:
            raise OAuthError("invalid_client", "Client authentication is required (HTTP Basic).", 401)
        client = self.client(client_id)
        if not secret or not secrets.compare_digest(secret, client.client_secret):
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        return client

    # -- codes and tokens ----------------------------------------------------
    def mint_code(self, client_id: str, redirect_uri: str | None, organizer_key: int, scope: str | None = None) -> str:
        client = self.client(client_id)
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthCode(
            code,
            client_id,
            redirect_uri,
            organizer_key,
            scope or client.scope,
            self.sb.now() + timedelta(seconds=self.sb.settings.auth_code_ttl),
        )
        return code

    def _token_string(self, kind: str, organizer_key: int, expires_at: datetime) -> str:
        header = _b64url(json.dumps({"kid": "sandbox", "alg": "RS256"}, separators=(",", ":")).encode())
        payload = _b64url(
            json.dumps(
                {
                    "sub": str(organizer_key),
                    "iss": "https://identity.goto.com",
                    "typ": kind,
                    "exp": int(expires_at.timestamp()),
                    "jti": secrets.token_hex(16),
                },
                separators=(",", ":"),
            ).encode()
        )
        return f"{header}.{payload}.{secrets.token_urlsafe(96)}"

    def issue(self, client_id: str, organizer_key: int, scope: str | None = None) -> dict[str, Any]:
        client = self.client(client_id)
        scope = scope or client.scope
        now = self.sb.now()
        access_exp = now + timedelta(seconds=self.sb.settings.access_token_ttl)
        refresh_exp = now + timedelta(seconds=self.sb.settings.refresh_token_ttl)
        access = AccessToken(
            self._token_string("access", organizer_key, access_exp), organizer_key, client_id, scope, access_exp
        )
        refresh = RefreshToken(
            self._token_string("refresh", organizer_key, refresh_exp), organizer_key, client_id, scope, refresh_exp
        )
        self.access[access.token] = access
        self.refresh[refresh.token] = refresh
        organizer = self.sb.state.organizers[organizer_key]
        return {
            "access_token": access.token,
            "token_type": "Bearer",
            "refresh_token": refresh.token,
            "expires_in": self.sb.settings.access_token_ttl,
            "scope": scope,
            "principal": organizer.email,
        }

    def exchange_code(self, client: OAuthClient, code: str | None, redirect_uri: str | None) -> dict[str, Any]:
        if not code:
            raise OAuthError("invalid_request", "Missing parameter 'code'.")
        record = self.codes.get(code)
        now = self.sb.now()
        if record is None or record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "Invalid authorization code.")
        if record.used_at is not None:
            raise OAuthError("invalid_grant", "The authorization code has already been used.")
        if now >= record.expires_at:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if record.redirect_uri is not None and record.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the one of the authorization request.")
        record.used_at = now
        return self.issue(client.client_id, record.organizer_key, record.scope)

    def use_refresh(self, client: OAuthClient, token: str | None) -> dict[str, Any]:
        if not token:
            raise OAuthError("invalid_request", "Missing parameter 'refresh_token'.")
        record = self.refresh.get(token)
        now = self.sb.now()
        if record is None or record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "Invalid refresh token.")
        if record.used_at is not None:
            raise OAuthError("invalid_grant", "The refresh token has already been used.")
        if now >= record.expires_at:
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        record.used_at = now
        return self.issue(client.client_id, record.organizer_key, record.scope)

    def validate(self, token: str | None) -> AccessToken | None:
        if not token:
            return None
        record = self.access.get(token)
        if record is None or self.sb.now() >= record.expires_at:
            return None
        return record

    def expire_all(self) -> int:
        """Make every current access token expired (refresh tokens keep working)."""
        now = self.sb.now()
        count = 0
        for record in self.access.values():
            if record.expires_at > now:
                record.expires_at = now
                count += 1
        return count


def bearer_token(req: Request) -> str | None:
    header = req.header("authorization") or ""
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if header[:6].lower() == "oauth ":  # very old clients: "OAuth oauth_token=..."
        for part in header[6:].split(","):
            key, _, value = part.strip().partition("=")
            if key == "oauth_token":
                return value.strip('"') or None
    return None


def _with_query(url: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + urlencode(params)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GoTo sandbox: authorize {client}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}}
main{{max-width:28rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}}
h1{{font-size:1.3rem}} .scope{{color:#555;font-size:.9rem}}
button{{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:4px;border:1px solid #888}}
button.allow{{background:#0b6bcb;color:#fff;border-color:#0b6bcb}}
select{{width:100%;font-size:1rem;padding:.3rem;margin:.5rem 0 1.5rem}}
.note{{color:#a15c00;font-size:.8rem;margin-top:1.5rem}}
</style></head>
<body><main>
<h1>{client} wants to access your GoTo account</h1>
<p class="scope">Requested access: <code>{scope}</code></p>
<form method="post" action="{action}">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="redirect_given" value="{redirect_given}">
<label for="user">Sign in as</label>
<select id="user" name="user">{options}</select>
<button class="allow" type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="note">GoTo sandbox: no password is asked; pick the user this application acts for.</p>
</main></body></html>
"""


def _pick_user(sb: GoToSandbox, hint: str | None) -> Organizer:
    if hint:
        hint = hint.strip()
        if hint.isdigit() and int(hint) in sb.state.organizers:
            return sb.state.organizers[int(hint)]
        key = sb.state.organizers_by_email.get(hint.lower())
        if key is not None:
            return sb.state.organizers[key]
        raise OAuthError("invalid_request", f"Unknown sandbox user '{hint}'.")
    return sb.default_organizer()


def register(sb: GoToSandbox, router: Router) -> None:
    store = sb.oauth

    def _authorize_params(values: dict[str, str]) -> tuple[OAuthClient, str, bool]:
        client_id = values.get("client_id") or ""
        if not client_id:
            raise OAuthError("invalid_request", "Missing parameter 'client_id'.")
        client = store.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", f"Unknown client_id '{client_id}'.")
        redirect_uri = values.get("redirect_uri") or ""
        given = bool(redirect_uri) and values.get("redirect_given", "1") != "0"
        if not redirect_uri:
            if not client.redirect_uris:
                raise OAuthError("invalid_request", "Missing parameter 'redirect_uri'.")
            redirect_uri = client.redirect_uris[0]
        if not client.allows(redirect_uri):
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client.")
        return client, redirect_uri, given

    def _error_page(exc: OAuthError) -> Response:
        return html_response(
            "<!doctype html><title>GoTo sandbox: authorization error</title>"
            f"<h1>Authorization error</h1><p><code>{html.escape(exc.error)}</code>: "
            f"{html.escape(exc.description)}</p>",
            400,
        )

    def _approve(values: dict[str, str], client: OAuthClient, redirect_uri: str, given: bool) -> Response:
        state = values.get("state")
        extra = {"state": state} if state else {}
        if values.get("response_type", "code") != "code":
            return redirect(_with_query(redirect_uri, {"error": "unsupported_response_type", **extra}))
        if values.get("decision", "allow") != "allow":
            return redirect(
                _with_query(
                    redirect_uri, {"error": "access_denied", "error_description": "The user denied access.", **extra}
                )
            )
        user = _pick_user(sb, values.get("user") or values.get("sandbox_user"))
        code = store.mint_code(client.client_id, redirect_uri if given else None, user.organizer_key, client.scope)
        return redirect(_with_query(redirect_uri, {"code": code, **extra}))

    def authorize_get(req: Request) -> Response:
        values = {k: v[0] for k, v in req.query.items()}
        try:
            client, redirect_uri, given = _authorize_params(values)
            if values.get("sandbox_auto_approve", "").lower() in ("1", "true", "yes"):
                return _approve(values, client, redirect_uri, given)
        except OAuthError as exc:
            return _error_page(exc)
        hint = values.get("sandbox_user") or values.get("login_hint")
        options = []
        default = None
        if hint:
            try:
                default = _pick_user(sb, hint).organizer_key
            except OAuthError:
                default = None
        for organizer in sb.state.organizers.values():
            selected = " selected" if organizer.organizer_key == default else ""
            options.append(
                f'<option value="{organizer.organizer_key}"{selected}>'
                f"{html.escape(organizer.name)} &lt;{html.escape(organizer.email)}&gt;</option>"
            )
        page = _PAGE.format(
            client=html.escape(client.name),
            scope=html.escape(client.scope),
            action=html.escape(req.url("/oauth/authorize")),
            client_id=html.escape(client.client_id),
            redirect_uri=html.escape(redirect_uri),
            state=html.escape(values.get("state", "")),
            redirect_given="1" if given else "0",
            options="".join(options),
        )
        return html_response(page)

    def authorize_post(req: Request) -> Response:
        values = req.form()
        try:
            client, redirect_uri, given = _authorize_params(values)
            return _approve(values, client, redirect_uri, given)
        except OAuthError as exc:
            return _error_page(exc)

    def token(req: Request) -> Response:
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        try:
            if ctype != "application/x-www-form-urlencoded":
                raise OAuthError(
                    "invalid_request", "The token request must be application/x-www-form-urlencoded."
                )
            form = req.form()
            client = store.authenticate_client(req, form)
            grant = form.get("grant_type")
            if grant == "authorization_code":
                body = store.exchange_code(client, form.get("code"), form.get("redirect_uri"))
            elif grant == "refresh_token":
                body = store.use_refresh(client, form.get("refresh_token"))
            elif not grant:
                raise OAuthError("invalid_request", "Missing parameter 'grant_type'.")
            else:
                raise OAuthError("unsupported_grant_type", f"Grant type '{grant}' is not supported.")
        except OAuthError as exc:
            return exc.response()
        return json_response(body, headers=[("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def metadata(req: Request) -> Response:
        return json_response(
            {
                "issuer": "https://identity.goto.com",
                "authorization_endpoint": req.url("/oauth/authorize"),
                "token_endpoint": req.url("/oauth/token"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    def users_me(req: Request) -> Response:
        organizer: Organizer = req.context["user"]
        account = sb.state.accounts[organizer.account_key]
        entitlements = [p for p in ("G2W", "G2T", "G2M", "G2A") if p in organizer.products]
        return json_response(
            {
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:scim:schemas:extension:getgo:1.0",
                ],
                "id": str(organizer.organizer_key),
                "userName": organizer.email,
                "displayName": organizer.name,
                "name": {
                    "givenName": organizer.first_name,
                    "familyName": organizer.last_name,
                    "formatted": organizer.name,
                },
                "emails": [{"value": organizer.email, "type": "work", "primary": True}],
                "locale": organizer.locale,
                "timezone": organizer.time_zone,
                "title": "",
                "active": True,
                "accounts": [
                    {
                        "value": str(account.account_key),
                        "display": account.name,
                        "entitlements": entitlements,
                    }
                ],
                "meta": {"resourceType": "User", "location": req.url("/identity/v1/Users/me")},
            },
            content_type="application/scim+json",
        )

    def admin_me(req: Request) -> Response:
        organizer: Organizer = req.context["user"]
        if not organizer.is_admin:
            return json_response(
                {"errorCode": "not.authenticated", "message": "The user is not an account administrator."}, 401
            )
        account = sb.state.accounts[organizer.account_key]
        return json_response(
            {
                "key": str(organizer.organizer_key),
                "accountKey": str(account.account_key),
                "accountName": account.name,
                "email": organizer.email,
                "firstName": organizer.first_name,
                "lastName": organizer.last_name,
                "locale": organizer.locale,
                "timeZone": organizer.time_zone,
                "adminRoles": ["SUPER_USER"],
                "createTime": iso_ms(sb.seeded_at),
            }
        )

    router.add("GET", "/oauth/authorize", authorize_get, auth=False)
    router.add("POST", "/oauth/authorize", authorize_post, auth=False)
    router.add("POST", "/oauth/token", token, auth=False)
    router.add("GET", "/.well-known/oauth-authorization-server", metadata, auth=False)
    router.add("GET", "/identity/v1/Users/me", users_me)
    router.add("GET", "/admin/rest/v1/me", admin_me)
