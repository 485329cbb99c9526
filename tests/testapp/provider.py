"""A tiny provider ("Example CRM") for testing the integration framework.

People are paged (``page``, ``per_page``, ``updated_since``); OAuth2 (authorization code,
refresh with rotation) or HTTP Basic; faults on demand: 429 with Retry-After, 5xx,
4xx with a provider message, malformed JSON, token expiry.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode

BIG = 9_007_199_254_740_993  # 2**53 + 1: breaks float-based JSON parsers


@dataclass
class Fault:
    status: int
    body: dict | str
    times: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    after_pages: int = 0  # start failing once this many people pages were served


class ExampleProvider:
    def __init__(self, client_id: str = "cid", client_secret: str = "csecret", username: str = "user",
                 password: str = "pass"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.people: list[dict] = []
        self.codes: set[str] = set()
        self.access_tokens: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set()
        self.faults: list[Fault] = []
        self.malformed = 0
        self.calls: list[tuple[str, str, int]] = []
        self.pages_served = 0
        self.now = lambda: datetime.now(UTC)

    # -- test controls --------------------------------------------------------------
    def seed(self, count: int, start: int = 0) -> None:
        stamp = self.now() - timedelta(hours=1)
        for n in range(start, start + count):
            self.people.append({"id": BIG + n, "email": f"Person{n}@Example.com", "first_name": f"First{n}",
                                "last_name": f"Last{n}", "updated_at": stamp.isoformat()})

    def touch(self, index: int, **changes) -> None:
        self.people[index].update(changes, updated_at=self.now().isoformat())

    def fail(self, status: int, body: dict | str | None = None, times: int = 1, retry_after: int | None = None,
             after_pages: int = 0) -> None:
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        self.faults.append(Fault(status, body if body is not None else {"error": "failure"}, times, headers,
                                 after_pages))

    def expire_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = self.now() - timedelta(seconds=1)

    def issue_code(self) -> str:
        code = secrets.token_hex(8)
        self.codes.add(code)
        return code

    def token_pair(self) -> dict:
        access, refresh = secrets.token_hex(12), secrets.token_hex(12)
        self.access_tokens[access] = self.now() + timedelta(seconds=3600)
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": 3600}

    # -- WSGI -------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, headers, payload = self.handle(method, path, query, body, environ)
        self.calls.append((method, path, status))
        text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        data = text.encode() if isinstance(text, str) else text
        start_response(f"{status} X", [("Content-Type", "application/json"), *headers])
        return [data]

    def handle(self, method, path, query, body, environ):
        if path == "/oauth/authorize":
            code = self.issue_code()
            target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
            return 302, [("Location", target)], ""
        if path == "/oauth/token":
            return self.token(body, environ)
        if not self.authorized(environ):
            return 401, [], {"error": "invalid_token", "message": "The access token expired or is invalid"}
        if path.startswith("/api/people") and self.faults:
            fault = self.faults[0]
            if self.pages_served >= fault.after_pages:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.pop(0)
                return fault.status, fault.headers, fault.body
        if path == "/api/me":
            return 200, [], {"id": BIG, "name": "Example Org"}
        if path == "/api/fields":
            return 200, [], [{"key": "first_name", "label": "First name"}, {"key": "last_name", "label": "Last name"},
                             {"key": "id", "label": "Person id", "readonly": True}]
        if path == "/api/people":
            if self.malformed:
                self.malformed -= 1
                return 200, [], '{"items": [{"id": 1, "email": "broken@example.com"'
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", 10))
            since = query.get("updated_since")
            people = [p for p in self.people if not since or p["updated_at"] > since]
            chunk = people[(page - 1) * per_page: page * per_page]
            self.pages_served += 1
            more = page * per_page < len(people)
            return 200, [], {"items": chunk, "next_page": page + 1 if more else None}
        return 404, [], {"error": "not_found", "message": f"No route {path}"}

    def authorized(self, environ) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return (user, password) == (self.username, self.password)
        if header.startswith("Bearer "):
            expiry = self.access_tokens.get(header[7:])
            return expiry is not None and expiry > self.now()
        return False

    def token(self, body, environ):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Basic "):
            return 401, [], {"error": "invalid_client"}
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        if (client_id, secret) != (self.client_id, self.client_secret):
            return 401, [], {"error": "invalid_client", "error_description": "Unknown client"}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            if form.get("code") not in self.codes:
                return 400, [], {"error": "invalid_grant", "error_description": "Unknown or used code"}
            self.codes.discard(form["code"])
            return 200, [], self.token_pair()
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return 400, [], {"error": "invalid_grant", "error_description": "Refresh token revoked"}
            self.refresh_tokens.discard(form["refresh_token"])  # rotation
            return 200, [], self.token_pair()
        return 400, [], {"error": "unsupported_grant_type"}
