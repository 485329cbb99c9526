"""core.http.Client against in-process WSGI apps: retry table, budget, refresh, keys, audit."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from liaison.core.http import (
    BasicAuth,
    Budget,
    CallAudit,
    Client,
    DbTokenStore,
    MalformedResponse,
    MemoryTokenStore,
    OAuth2Auth,
    ProviderError,
    SessionAuth,
    Token,
    as_key,
    transports,
)
from liaison.core.http.keys import InvalidKey
from liaison.core.http.retry import parse_retry_after
from liaison.core.models import Credential


class Script:
    """A WSGI app answering from a script of (status, headers, body) per call."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.requests.append({
            "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "query": environ.get("QUERY_STRING"),
            "auth": environ.get("HTTP_AUTHORIZATION"), "body": environ["wsgi.input"].read(length)})
        status, headers, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        start_response(f"{status} X", [("Content-Type", "application/json"), *headers])
        return [body.encode() if isinstance(body, str) else body]


def client_for(app, **kw) -> Client:
    return Client("http://provider.test", provider="Provider", transport=httpx.WSGITransport(app=app), **kw)


def test_success_parses_64_bit_keys_exactly():
    key = 2**63 - 25
    app = Script((200, [], f'{{"webinarKey": {key}, "ratio": 0.1}}'))
    data = client_for(app).get("/webinars/{key}", path_params={"key": key}).data
    assert data["webinarKey"] == key and as_key(data["webinarKey"]) == str(key)
    assert app.requests[0]["path"] == f"/webinars/{key}"


def test_as_key_refuses_floats_and_empty_values():
    with pytest.raises(InvalidKey):
        as_key(1.5e18)
    with pytest.raises(InvalidKey):
        as_key(None)
    assert as_key(" 123 ") == "123"


def test_429_waits_for_retry_after_then_succeeds(monkeypatch):
    waits = []
    app = Script((429, [("Retry-After", "7")], {"msg": "slow down"}), (200, [], {"ok": True}))
    client = client_for(app, sleep=waits.append)
    assert client.get("/x").data == {"ok": True}
    assert waits == [7.0]


def test_429_retry_after_too_long_fails_as_retryable():
    app = Script((429, [("Retry-After", "3600")], {}))
    with pytest.raises(ProviderError) as info:
        client_for(app, sleep=lambda s: None).get("/x")
    assert info.value.retryable and info.value.retry_after == 3600.0
    assert len(app.requests) == 1


def test_5xx_backs_off_bounded_then_reports_server_failure():
    waits = []
    app = Script((503, [], {"message": "maintenance"}))
    with pytest.raises(ProviderError) as info:
        client_for(app, sleep=waits.append).get("/x")
    assert len(app.requests) == 4  # the first call and three retries
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2] <= 8.0
    assert info.value.retryable
    assert "maintenance" in str(info.value) and "server failed" in str(info.value)


def test_post_is_not_repeated_after_a_server_error_unless_idempotent():
    app = Script((500, [], {}), (201, [], {"id": 1}))
    with pytest.raises(ProviderError):
        client_for(app).post("/registrants", json={"email": "a@b.c"})
    assert len(app.requests) == 1
    app = Script((500, [], {}), (201, [], {"id": 1}))
    assert client_for(app).post("/registrants", json={"email": "a@b.c"}, idempotent=True).status == 201


def test_timeouts_back_off_then_fail_in_words():
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = Client("http://provider.test", provider="Provider", transport=httpx.MockTransport(handler))
    with pytest.raises(ProviderError) as info:
        client.get("/slow")
    assert len(calls) == 4
    assert str(info.value).startswith("Provider did not answer in time")


def test_other_4xx_fail_at_once_with_the_providers_words():
    app = Script((409, [], {"errorCode": "DuplicateRegistrant", "description": "Registrant already exists",
                            "incident": "42"}))
    client = client_for(app, error_sentences={"DuplicateRegistrant": "This person is already registered."})
    with pytest.raises(ProviderError) as info:
        client.post("/registrants", json={})
    error = info.value
    assert len(app.requests) == 1 and not error.retryable
    assert error.code == "DuplicateRegistrant" and error.detail == "Registrant already exists"
    assert str(error) == ('This person is already registered. (Provider said: "DuplicateRegistrant: '
                          'Registrant already exists") [incident 42]')
    assert "Bad request" not in str(error)


def test_unknown_4xx_code_gets_a_sentence_by_status():
    app = Script((400, [], {"int_err_code": "InvalidParameter", "msg": "fromTime is required"}))
    with pytest.raises(ProviderError) as info:
        client_for(app).get("/webinars")
    assert str(info.value) == ('Provider refused the request as invalid. '
                               '(Provider said: "InvalidParameter: fromTime is required")')


def test_allowed_status_is_returned_to_the_caller():
    app = Script((409, [], {"registrantKey": 5}))
    response = client_for(app).post("/registrants", json={}, allow=(409,))
    assert response.status == 409 and response.data == {"registrantKey": 5}


def test_malformed_json_is_a_clear_retryable_error():
    app = Script((200, [], '{"items": [1, 2'))
    response = client_for(app).get("/items")
    with pytest.raises(MalformedResponse) as info:
        response.data
    assert "not valid JSON" in str(info.value)


def test_audit_records_templates_not_values():
    audit = CallAudit()
    app = Script((503, [], {}), (200, [], {}))
    client_for(app, audit=audit).get("/organizers/{key}/webinars", path_params={"key": "123"},
                                     params={"token": "secret"})
    assert [(r.method, r.path, r.status) for r in audit.records] == [
        ("GET", "/organizers/{key}/webinars", 503), ("GET", "/organizers/{key}/webinars", 200)]
    summary = audit.summary()
    assert summary[0]["calls"] == 2 and summary[0]["errors"] == 1 and summary[0]["statuses"] == {"503": 1, "200": 1}


def test_basic_auth_header():
    app = Script((200, [], {}))
    client_for(app, auth=BasicAuth("apiuser-1@apiconnector.com", "pw")).get("/account-info")
    assert app.requests[0]["auth"] == "Basic YXBpdXNlci0xQGFwaWNvbm5lY3Rvci5jb206cHc="


def test_session_auth_logs_in_again_once_when_the_session_expired():
    logins = []

    def login():
        logins.append(1)
        return f"session-{len(logins)}"

    app = Script((500, [], {"faultstring": "Session expired"}), (200, [], {"ok": 1}))
    auth = SessionAuth(login, attach=lambda request, session: request.headers.__setitem__("X-Session", session),
                       expired=lambda r: r.status_code == 500 and b"Session expired" in r.content)
    assert client_for(app, auth=auth).get("/ws").data == {"ok": 1}
    assert len(logins) == 2


def test_mounted_transport_serves_a_base_url():
    app = Script((200, [], {"mounted": True}))
    with transports.mounted("http://mounted.test/api", httpx.WSGITransport(app=app)):
        client = Client("http://mounted.test/api", provider="P")
        assert client.get("/ping").data == {"mounted": True}
    assert transports.resolve("http://mounted.test/api/ping") is None


def test_parse_retry_after_accepts_seconds_and_dates():
    now = timezone.now()
    assert parse_retry_after("3") == 3.0
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 25 <= parse_retry_after(later, now=now) <= 31
    assert parse_retry_after("soon") is None


# -- budgets ----------------------------------------------------------------------------

def test_budget_spaces_calls_to_the_limit(settings):
    settings.RATE_LIMIT_BACKEND = "memory"
    budget = Budget.per_second("test:budget", 5)
    started = time.monotonic()
    for _ in range(11):
        budget.acquire()
    elapsed = time.monotonic() - started
    assert elapsed >= 1.9, f"11 calls at 5/s cannot take {elapsed:.2f}s"


def test_budget_on_sqlite_is_shared_through_the_file(settings, tmp_path):
    settings.RATE_LIMIT_BACKEND = "sqlite"
    settings.VAR_DIR = tmp_path
    budget = Budget(key="test:sqlite", limits=((3, 1.0),))
    started = time.monotonic()
    for _ in range(4):
        budget.acquire()
    assert time.monotonic() - started >= 0.9
    assert (tmp_path / "budgets.sqlite3").exists()


def test_budget_that_stays_full_raises_retryable(settings):
    from liaison.core.http import BudgetExhausted

    settings.RATE_LIMIT_BACKEND = "memory"
    budget = Budget(key="test:full", limits=((1, 60.0),), max_wait=0.2)
    budget.acquire()
    with pytest.raises(BudgetExhausted) as info:
        budget.acquire()
    assert info.value.retryable


# -- OAuth2 --------------------------------------------------------------------------------

class TokenServer:
    """A token endpoint with refresh-token rotation, and an API that wants a fresh token."""

    def __init__(self):
        self.refreshes = 0
        self.valid = {"A0"}
        self.refresh_tokens = {"R0"}
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/oauth/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
            form = dict(pair.split("=", 1) for pair in body.split("&"))
            time.sleep(0.05)  # a slow token endpoint makes races likely
            with self.lock:
                if form.get("refresh_token") not in self.refresh_tokens:
                    start_response("400 Bad", [("Content-Type", "application/json")])
                    return [b'{"error": "invalid_grant", "error_description": "refresh token already used"}']
                self.refresh_tokens.discard(form["refresh_token"])
                self.refreshes += 1
                access, refresh = f"A{self.refreshes}", f"R{self.refreshes}"
                self.valid = {access}
                self.refresh_tokens.add(refresh)
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"access_token": access, "refresh_token": refresh, "expires_in": 3600}).encode()]
        token = environ.get("HTTP_AUTHORIZATION", "")[7:]
        if token not in self.valid:
            start_response("403 Forbidden", [("Content-Type", "application/json")])
            return [b'{"int_err_code": "InvalidToken", "msg": "Invalid token passed"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']


def goto_expired(response: httpx.Response) -> bool:
    return response.status_code in (401, 403) and b"InvalidToken" in response.content


def oauth_client(server, store, lock_name="test"):
    transport = httpx.WSGITransport(app=server)
    auth = OAuth2Auth(store, provider="GoTo", token_url="http://auth.test/oauth/token", client_id="cid",
                      client_secret="secret", transport=transport, expired=goto_expired, lock_name=lock_name)
    return Client("http://api.test", provider="GoTo", auth=auth, transport=transport), auth


def test_expired_token_is_refreshed_once_and_the_call_repeated():
    server = TokenServer()
    server.valid = {"other"}  # the stored A0 is refused
    store = MemoryTokenStore(Token("A0", "R0", timezone.now() + timedelta(hours=1)))
    client, auth = oauth_client(server, store)
    assert client.get("/me").data == {"ok": True}
    assert auth.refresh_count == 1 and store.token.access_token == "A1" and store.token.refresh_token == "R1"


def test_token_about_to_expire_is_refreshed_before_the_call():
    server = TokenServer()
    store = MemoryTokenStore(Token("A0", "R0", timezone.now() + timedelta(seconds=10)))
    client, auth = oauth_client(server, store)
    client.get("/me")
    assert auth.refresh_count == 1 and len(server.valid) == 1


def test_refused_refresh_says_to_reconnect():
    server = TokenServer()
    server.valid = set()
    server.refresh_tokens = set()
    client, _ = oauth_client(server, MemoryTokenStore(Token("A0", "R0", timezone.now() + timedelta(hours=1))))
    with pytest.raises(ProviderError) as info:
        client.get("/me")
    assert "reconnect" in str(info.value) and "refresh token already used" in str(info.value)


def test_refresh_is_single_flight_across_threads():
    server = TokenServer()
    server.valid = set()  # every thread meets an expired token at once
    store = MemoryTokenStore(Token("A0", "R0", timezone.now() + timedelta(hours=1)))
    errors = []

    def call():
        client, _ = oauth_client(server, store, lock_name="shared")
        try:
            client.get("/me")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.refreshes == 1  # with rotation, a second refresh would have failed


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_db_token_store_refreshes_once_across_threads_and_encrypts():
    server = TokenServer()
    server.valid = set()
    store = DbTokenStore("integration:test")
    store.save(Token("A0", "R0", timezone.now() + timedelta(hours=1)))
    errors = []

    def call():
        from django.db import connection

        try:
            client, _ = oauth_client(server, DbTokenStore("integration:test"), lock_name=f"t{threading.get_ident()}")
            client.get("/me")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.refreshes == 1
    raw = Credential.objects.filter(key="integration:test").values_list("access_token", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM core_credential WHERE key = %s", ["integration:test"])
        stored_access, stored_refresh = cursor.fetchone()
    assert list(raw) == ["A1"]
    # Stored encrypted: compare whole values ("R1" occurs by chance in ~2 % of ciphertexts).
    assert stored_access != "A1" and stored_refresh != "R1" and stored_access.startswith("gAAAA")
    assert stored_refresh.startswith("gAAAA")


def test_not_connected_says_so():
    client, _ = oauth_client(TokenServer(), MemoryTokenStore(None))
    with pytest.raises(ProviderError) as info:
        client.get("/me")
    assert "not connected" in str(info.value)


def test_budget_on_redis_is_shared_between_limiters(settings):
    """At scale the budget lives in Redis: two processes (here two limiters) share it."""
    import uuid

    import redis

    from liaison.core.http import budget as budget_module

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    settings.RATE_LIMIT_BACKEND = "redis"
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.RATE_LIMIT_PREFIX = f"liaison-test-{uuid.uuid4().hex[:8]}"
    budget = Budget(key="test:redis", limits=((3, 1.0),), max_wait=5)
    started = time.monotonic()
    for _ in range(3):
        budget.acquire()
    budget_module._limiters.clear()  # a fresh limiter, as another process would have: same bucket
    budget.acquire()
    assert time.monotonic() - started >= 0.9
