"""The shared toolkit: clock, router, mount, call log and every fault setting."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from liaison.sandbox.common import (
    CallLog,
    FaultMiddleware,
    Faults,
    FaultSettings,
    Mount,
    OffsetClock,
    Router,
    json_response,
    no_content,
)
from liaison.sandbox.goto import GoToSandbox, SeedConfig

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------
# Clock, router, mount


def test_offset_clock_moves():
    clock = OffsetClock(lambda: T0)
    assert clock() == T0
    assert clock.advance(90) == T0 + timedelta(seconds=90)
    assert clock.advance(timedelta(hours=1)) == T0 + timedelta(hours=1, seconds=90)
    assert clock.set(datetime(2030, 1, 1, tzinfo=UTC)) == datetime(2030, 1, 1, tzinfo=UTC)
    assert clock.reset() == T0
    with pytest.raises(ValueError):
        clock.set(datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        OffsetClock(lambda: datetime(2030, 1, 1))()


def test_router_templates_and_methods():
    router = Router()
    router.add("GET", "/a/{key:int}/b/{name}", lambda req, **kw: kw)
    router.add("GET", "/a/{key:int}/b/fields", lambda req, **kw: "fields")
    router.add("POST", "/a/{key:int}", lambda req, **kw: kw)
    match, _ = router.match("GET", "/a/12345678901234567890/b/x")
    assert match.params == {"key": 12345678901234567890, "name": "x"}
    match, _ = router.match("HEAD", "/a/1/b/x")
    assert match is not None
    match, allowed = router.match("DELETE", "/a/1")
    assert match is None and allowed == ["POST"]
    assert router.match("GET", "/a/x") == (None, [])
    assert router.match("GET", "/zzz") == (None, [])


def test_mount_moves_the_prefix_to_script_name():
    seen = {}

    def app(environ, start_response):
        seen.update(script=environ["SCRIPT_NAME"], path=environ["PATH_INFO"])
        return no_content()(environ, start_response)

    mounted = Mount({"/sandbox/goto": app})
    client = httpx.Client(transport=httpx.WSGITransport(app=mounted), base_url="http://demo")
    client.get("/sandbox/goto/G2W/rest/v2/x")
    assert seen == {"script": "/sandbox/goto", "path": "/G2W/rest/v2/x"}
    client.get("/sandbox/goto")
    assert seen == {"script": "/sandbox/goto", "path": "/"}
    assert client.get("/elsewhere").status_code == 404
    assert client.get("/sandbox/gotomeeting").status_code == 404


# ---------------------------------------------------------------------------
# Fault middleware on a tiny app (the INES and dotdigital sandboxes reuse it)


def _tiny(faults: Faults, calls: CallLog, clock, sleeps: list[float]):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/empty":
            return no_content()(environ, start_response)
        return json_response({"ok": True, "items": list(range(10))})(environ, start_response)

    return FaultMiddleware(app, faults, calls, clock, sleep=sleeps.append)


def _client(app):
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t")


def test_latency_is_applied_per_call():
    sleeps: list[float] = []
    faults = Faults(FaultSettings(latency=0.02))
    client = _client(_tiny(faults, CallLog(), lambda: T0, sleeps))
    for _ in range(3):
        assert client.get("/x").status_code == 200
    assert sleeps == [0.02, 0.02, 0.02]
    assert client.get("/_sandbox/faults").status_code == 200  # exempt: no sleep
    assert len(sleeps) == 3


def test_error_rate_is_seeded_and_reproducible():
    def run(seed: int) -> list[int]:
        faults = Faults(FaultSettings(error_rate=0.5, seed=seed))
        client = _client(_tiny(faults, CallLog(), lambda: T0, []))
        return [client.get("/x").status_code for _ in range(40)]

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert {s for s in first} - {200} <= {500, 502, 503}
    assert 5 < sum(s != 200 for s in first) < 35
    always = Faults(FaultSettings(error_rate=1.0, error_statuses=(503,)))
    assert _client(_tiny(always, CallLog(), lambda: T0, [])).get("/x").status_code == 503


def test_rate_limit_after_n_calls_for_a_number_of_calls():
    faults = Faults(FaultSettings(rate_limit_after=3, rate_limit_for_calls=2))
    client = _client(_tiny(faults, CallLog(), lambda: T0, []))
    statuses = [client.get("/x").status_code for _ in range(9)]
    assert statuses == [200, 200, 200, 429, 429, 200, 200, 200, 429]
    assert "retry-after" not in client.get("/x").headers  # GoTo sends no rate-limit headers by default


def test_rate_limit_for_a_time_window_with_retry_after():
    clock = OffsetClock(lambda: T0)
    faults = Faults(FaultSettings(rate_limit_after=2, rate_limit_for_seconds=10, retry_after=30))
    client = _client(_tiny(faults, CallLog(), clock, []))
    assert [client.get("/x").status_code for _ in range(2)] == [200, 200]
    limited = client.get("/x")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "10"
    clock.advance(4)
    assert client.get("/x").headers["retry-after"] == "6"
    clock.advance(6)
    assert client.get("/x").status_code == 200


def test_rate_limit_without_end_lasts_until_changed():
    faults = Faults(FaultSettings(rate_limit_after=0))
    client = _client(_tiny(faults, CallLog(), lambda: T0, []))
    assert {client.get("/x").status_code for _ in range(5)} == {429}
    faults.configure(rate_limit_after=None)
    assert client.get("/x").status_code == 200


def test_malformed_bodies_for_the_next_n_responses():
    faults = Faults(FaultSettings(malformed_responses=2))
    calls = CallLog()
    client = _client(_tiny(faults, calls, lambda: T0, []))
    assert client.get("/empty").status_code == 204  # no body: does not consume a credit
    for _ in range(2):
        answer = client.get("/x")
        assert answer.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.content)
        assert int(answer.headers["content-length"]) == len(answer.content)
    assert client.get("/x").json()["ok"] is True
    assert faults.settings.malformed_responses == 0
    assert [e.fault for e in calls.entries()] == [None, "malformed", "malformed", None]


def test_call_log_counts_and_reset():
    calls = CallLog()
    faults = Faults(FaultSettings(rate_limit_after=2, rate_limit_for_calls=1))
    client = _client(_tiny(faults, calls, lambda: T0, []))
    client.get("/x")
    client.post("/x")
    client.get("/y")
    client.get("/_sandbox/calls")
    assert calls.total == 3
    assert calls.count(method="GET", path="/x") == 1
    assert calls.count(path="/x") == 2
    assert calls.count(status=429) == 1
    assert calls.count(path_prefix="/y") == 1
    stats = calls.stats()
    assert stats["byStatus"] == {"200": 2, "429": 1}
    assert stats["byFault"] == {"rate_limit": 1}
    assert stats["recent"][-1] == {"at": "2026-01-01T12:00:00Z", "method": "GET", "path": "/y", "status": 429,
                                   "fault": "rate_limit"}
    calls.reset()
    assert calls.total == 0 and calls.entries() == []


def test_fault_settings_validation_and_json_update():
    faults = Faults()
    with pytest.raises(ValueError):
        faults.configure(error_rate=2)
    with pytest.raises(ValueError):
        faults.configure(latency=-1)
    with pytest.raises(ValueError):
        faults.configure(error_statuses=(404,))
    with pytest.raises(ValueError):
        faults.update_from_json({"nonsense": 1})
    expired = []
    faults.on_expire_tokens(lambda: expired.append(1) or 5)
    settings = faults.update_from_json({"latency": "0.02", "error_statuses": [502], "expire_tokens": True})
    assert settings.latency == 0.02 and settings.error_statuses == (502,) and expired == [1]
    assert faults.reset() == FaultSettings()


# ---------------------------------------------------------------------------
# Faults on the GoTo sandbox


@pytest.fixture
def goto():
    clock = OffsetClock(lambda: T0)
    sandbox = GoToSandbox(seed=1, config=SeedConfig(webinars=4, trainings=1, meetings=1, assist_sessions=1),
                          clock=clock, deliver=lambda *a: 200, sleep=lambda s: None)
    client = _client(sandbox)
    return sandbox, client


def test_goto_faults_use_goto_error_bodies(goto):
    sandbox, client = goto
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    sandbox.faults.configure(error_rate=1.0, error_statuses=(500,))
    answer = client.get("/identity/v1/Users/me", headers=auth)
    assert answer.status_code == 500
    body = answer.json()
    assert body["errorCode"] == "InternalServerError" and isinstance(body["incident"], int)
    sandbox.faults.configure(error_rate=0.0, rate_limit_after=0)
    limited = client.get("/identity/v1/Users/me", headers=auth)
    assert limited.status_code == 429 and limited.json() == {"message": "Too Many Requests"}
    assert sandbox.calls.count(status=429) == 1


def test_goto_forced_token_expiry(goto):
    sandbox, client = goto
    token = sandbox.mint_token()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/identity/v1/Users/me", headers=auth).status_code == 200
    assert sandbox.faults.expire_tokens() >= 1
    expired = client.get("/identity/v1/Users/me", headers=auth)
    assert expired.status_code == 403 and expired.json()["int_err_code"] == "InvalidToken"
    basic = "Basic " + base64.b64encode(b"liaison-demo:liaison-demo-secret").decode()
    fresh = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                        headers={"Authorization": basic}).json()
    assert client.get("/identity/v1/Users/me",
                      headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 200
