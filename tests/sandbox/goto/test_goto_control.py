"""The /_sandbox control group and mounting under a prefix (SCRIPT_NAME)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from liaison.sandbox.common import Mount
from liaison.sandbox.goto import GoToSandbox, SandboxSettings, SeedConfig, create_app
from liaison.sandbox.goto.base import iso_z

G2W = "/G2W/rest/v2"


def test_info_and_users(client, sandbox):
    info = client.get("/_sandbox").json()
    assert info["seed"] == 7 and info["counts"] == sandbox.state.counts()
    assert info["now"].startswith("2026-03-02T10:17:30")
    assert info["config"]["webinars"] == 30
    users = client.get("/_sandbox/users").json()
    assert [o["email"] for o in users["organizers"]] == [o.email for o in sandbox.state.organizers.values()]
    assert all(isinstance(o["organizerKey"], str) for o in users["organizers"])


def test_seed_with_parameters_and_reset(client, sandbox):
    answer = client.post("/_sandbox/seed", json={"seed": 3, "webinars": 5, "registrants_per_webinar": 4,
                                                 "trainings": 0, "meetings": 2, "assist_sessions": 1})
    assert answer.status_code == 200
    counts = answer.json()["counts"]
    assert counts["webinars"] == 5 and counts["webinarRegistrants"] == 20 and counts["trainings"] == 0
    assert sandbox.seed == 3
    assert client.post("/_sandbox/seed", json={"webinars": -1}).status_code == 400
    assert client.post("/_sandbox/seed", json={"bogus": 1}).status_code == 400
    sandbox.faults.configure(latency=0.5)
    sandbox.advance(3600)
    client.get("/nothing")
    reset = client.post("/_sandbox/reset").json()
    assert reset["seed"] == 3 and reset["counts"]["webinars"] == 5
    assert sandbox.faults.settings.latency == 0 and sandbox.calls.total == 0
    assert sandbox.clock.offset == timedelta(0)


def test_faults_endpoints(client, sandbox, auth):
    assert client.get("/_sandbox/faults").json()["latency"] == 0
    changed = client.patch("/_sandbox/faults", json={"latency": 0.02, "error_rate": 0.1, "rate_limit_after": 100,
                                                     "rate_limit_for_seconds": 60, "malformed_responses": 1})
    assert changed.status_code == 200 and changed.json()["latency"] == 0.02
    assert sandbox.faults.settings.rate_limit_after == 100
    assert client.patch("/_sandbox/faults", json={"error_rate": 3}).status_code == 400
    assert client.delete("/_sandbox/faults").json()["error_rate"] == 0
    assert client.get("/identity/v1/Users/me", headers=auth).status_code == 200
    expired = client.post("/_sandbox/faults/expire-tokens").json()
    assert expired["expired"] >= 1
    assert client.get("/identity/v1/Users/me", headers=auth).status_code == 403
    # The control group is never faulted.
    client.patch("/_sandbox/faults", json={"error_rate": 1.0})
    assert client.get("/_sandbox/faults").status_code == 200


def test_calls_deliveries_outbox_and_clock(client, sandbox, auth, ok, everything, deliveries):
    client.get(f"{G2W}/organizers/{ok}/webinars", params=everything, headers=auth)
    client.get(f"{G2W}/organizers/{ok}/webinars", headers=auth)
    stats = client.get("/_sandbox/calls", params={"last": 5}).json()
    assert stats["total"] == 2 and stats["byStatus"] == {"200": 1, "400": 1}
    assert stats["recent"][0]["path"] == f"{G2W}/organizers/{ok}/webinars"
    assert client.delete("/_sandbox/calls").status_code == 204
    assert client.get("/_sandbox/calls").json()["total"] == 0

    client.post(f"{G2W}/webhooks/secretkey", headers=auth)
    hook = client.post(f"{G2W}/webhooks", headers=auth, json=[{
        "callbackUrl": "https://h.example/x", "eventName": "registrant.added", "eventVersion": "1.0.0",
        "product": "g2w"}]).json()["_embedded"]["webhooks"][0]["webhookKey"]
    client.put(f"{G2W}/webhooks", headers=auth, json=[{"webhookKey": hook, "state": "ACTIVE"}])
    client.post(f"{G2W}/userSubscriptions", headers=auth, json=[{"webhookKey": hook}])
    [w] = sandbox.add_webinar("Logged")
    sandbox.add_registrant(w.webinar_key, "log@example.com")
    log = client.get("/_sandbox/deliveries").json()["deliveries"]
    assert len(log) == 1 and log[0]["eventName"] == "registrant.added" and log[0]["ok"] is True
    assert json.loads(log[0]["body"])["email"] == "log@example.com"
    assert "x-webhook-signature" in log[0]["headers"]
    assert client.delete("/_sandbox/deliveries").status_code == 204
    assert client.get("/_sandbox/deliveries").json()["deliveries"] == []

    mails = client.get("/_sandbox/outbox").json()["emails"]
    assert mails[-1]["to"] == "log@example.com" and mails[-1]["kind"] == "confirmation"
    assert client.delete("/_sandbox/outbox").status_code == 204

    clock = client.post("/_sandbox/clock", json={"advance": 3600}).json()
    assert clock["offsetSeconds"] == 3600 and clock["now"].startswith("2026-03-02T11:17:30")
    assert client.get("/identity/v1/Users/me", headers=auth).status_code == 403  # the token expired
    assert client.post("/_sandbox/clock", json={"now": "2026-06-01T00:00:00Z"}).json()["now"] == \
        "2026-06-01T00:00:00.000Z"
    assert client.post("/_sandbox/clock", json={"reset": True}).json()["offsetSeconds"] == 0
    assert client.post("/_sandbox/clock", json={"advance": "soon"}).status_code == 400


def test_settings_and_minting(client, sandbox, organizer):
    settings = client.get("/_sandbox/settings").json()
    assert settings["oauth_clients"][0]["client_id"] == "liaison-demo"
    assert settings["g2a_capabilities"][str(organizer.account_key)]
    changed = client.patch("/_sandbox/settings", json={
        "g2t_registrant_lag_seconds": 60, "oauth_clients": [
            {"client_id": "partner", "client_secret": "p", "redirect_uris": ["https://p.example/cb"]}],
        "g2a_capabilities": {"default": ["sessionReports"]}}).json()
    assert changed["g2t_registrant_lag_seconds"] == 60
    assert [c["client_id"] for c in changed["oauth_clients"]] == ["liaison-demo", "partner"]
    assert changed["g2a_capabilities"][str(organizer.account_key)] == ["sessionReports"]
    assert client.patch("/_sandbox/settings", json={"g2a_capabilities": {"default": ["x"]}}).status_code == 400
    minted = client.post("/_sandbox/oauth/token", json={"user": organizer.email, "client_id": "partner"}).json()
    me = client.get("/identity/v1/Users/me", headers={"Authorization": f"Bearer {minted['access_token']}"})
    assert me.json()["id"] == str(organizer.organizer_key)
    assert client.post("/_sandbox/oauth/token", json={"user": "nobody@example.com"}).status_code == 400


def test_control_token(clock):
    sandbox = GoToSandbox(seed=1, clock=clock, settings=SandboxSettings(control_token="s3cret"))
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox")
    assert client.get("/_sandbox").status_code == 401
    assert client.get("/_sandbox", headers={"X-Sandbox-Token": "s3cret"}).status_code == 200


# ---------------------------------------------------------------------------
# Mounted under a prefix


@pytest.fixture
def mounted(clock, deliveries):
    sandbox = create_app(seed=7, config=SeedConfig(webinars=6), clock=clock, deliver=deliveries)
    app = Mount({"/sandbox/goto": sandbox})
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://demo.local:8000") as client:
        yield sandbox, client


def test_absolute_urls_honour_script_name(mounted, deliveries):
    sandbox, client = mounted
    prefix = "http://demo.local:8000/sandbox/goto"
    page = client.get("/sandbox/goto/oauth/authorize", params={"client_id": "liaison-demo",
                                                              "redirect_uri": "https://app/cb", "state": "s"})
    assert f'action="{prefix}/oauth/authorize"' in page.text
    allow = client.post("/sandbox/goto/oauth/authorize", data={"client_id": "liaison-demo",
                                                               "redirect_uri": "https://app/cb", "decision": "allow"})
    code = parse_qs(urlsplit(allow.headers["location"]).query)["code"][0]
    tokens = client.post("/sandbox/goto/oauth/token", auth=("liaison-demo", "liaison-demo-secret"),
                         data={"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app/cb"})
    auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    me = client.get("/sandbox/goto/identity/v1/Users/me", headers=auth).json()
    assert me["meta"]["location"] == f"{prefix}/identity/v1/Users/me"
    ok = me["id"]
    base = f"/sandbox/goto{G2W}/organizers/{ok}"
    listing = client.get(f"{base}/webinars", params={"fromTime": "2000-01-01T00:00:00Z",
                                                     "toTime": "2100-01-01T00:00:00Z", "size": 1}, headers=auth).json()
    assert listing["_links"]["self"]["href"].startswith(f"{prefix}{G2W}/organizers/{ok}/webinars?")
    assert listing["_embedded"]["webinars"][0]["registrationUrl"].startswith(f"{prefix}/gotowebinar/register/")

    client.post(f"/sandbox/goto{G2W}/webhooks/secretkey", headers=auth)
    hook = client.post(f"/sandbox/goto{G2W}/webhooks", headers=auth, json=[{
        "callbackUrl": "https://h.example/x", "eventName": "registrant.added", "eventVersion": "1.0.0",
        "product": "g2w"}]).json()["_embedded"]["webhooks"][0]["webhookKey"]
    client.put(f"/sandbox/goto{G2W}/webhooks", headers=auth, json=[{"webhookKey": hook, "state": "ACTIVE"}])
    client.post(f"/sandbox/goto{G2W}/userSubscriptions", headers=auth, json=[{"webhookKey": hook}])
    start = (sandbox.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    key = client.post(f"{base}/webinars", headers=auth, json={"subject": "Mounted", "times": [
        {"startTime": iso_z(start), "endTime": iso_z(start + timedelta(hours=1))}]}).json()["webinarKey"]
    registrant = client.post(f"{base}/webinars/{key}/registrants", headers=auth,
                             json={"firstName": "M", "lastName": "P", "email": "mp@example.com"}).json()
    assert registrant["joinUrl"].startswith(f"{prefix}/gotowebinar/join/{key}/")
    assert json.loads(deliveries.calls[-1][2])["joinUrl"] == registrant["joinUrl"]
    start_url = client.get(f"/sandbox/goto{G2W}/webinars/{key}/startUrl", headers=auth).json()["startUrl"]
    assert start_url == f"{prefix}/gotowebinar/start/{key}"
    join_page = client.get(registrant["joinUrl"].removeprefix("http://demo.local:8000"))
    assert join_page.status_code == 200 and "not in session" in join_page.text

    assist = client.post("/sandbox/goto/G2A/rest/v1/sessions", headers=auth,
                         json={"sessionType": "screen_sharing"}).json()
    assert assist["startScreenSharing"]["launchUrl"].startswith(f"{prefix}/gotoassist/launch/")
    training = client.post(f"/sandbox/goto/G2T/rest/organizers/{ok}/trainings", headers=auth, json={
        "name": "T", "timeZone": "Europe/Paris",
        "times": [{"startDate": iso_z(start), "endDate": iso_z(start + timedelta(hours=1))}]}).json()
    g2t = client.post(f"/sandbox/goto/G2T/rest/organizers/{ok}/trainings/{training}/registrants", headers=auth,
                      json={"email": "t@example.com", "givenName": "T", "surname": "R"}).json()
    assert g2t["confirmationUrl"].startswith(f"{prefix}/gototraining/confirmation/")
    info = client.get("/sandbox/goto/_sandbox").json()
    assert info["baseUrl"] == prefix


def test_join_link_during_a_live_session_records_attendance(mounted):
    sandbox, client = mounted
    [w] = sandbox.add_webinar("Join me")
    r = sandbox.add_registrant(w.webinar_key, "joiner@example.com", "Jo", "Iner")
    link = f"/sandbox/goto/gotowebinar/join/{w.webinar_key}/{r.join_id}"
    sandbox.advance(w.times[0][0] - sandbox.now() + timedelta(minutes=5))
    page = client.get(link)
    assert page.status_code == 200 and "you joined" in page.text
    [session] = w.sessions
    assert r.registrant_key in session.attendance
    register_page = client.get(f"/sandbox/goto/gotowebinar/register/{w.webinar_key}")
    assert register_page.status_code == 200 and "<form" in register_page.text
    posted = client.post(f"/sandbox/goto/gotowebinar/register/{w.webinar_key}",
                         data={"firstName": "Web", "lastName": "Form", "email": "form@example.com"})
    assert posted.status_code == 201
    assert "form@example.com" in w.by_email


def test_stand_alone_entry_point(monkeypatch):
    from liaison.sandbox.goto import __main__ as entry

    served = {}
    monkeypatch.setattr(entry, "serve", lambda app, host, port: served.update(app=app, host=host, port=port))
    assert entry.main(["--port", "9999", "--seed", "4", "--webinars", "3", "--attendance-ratio", "0.5",
                       "--latency", "0.02"]) == 0
    sandbox = served["app"]
    assert served["port"] == 9999 and sandbox.seed == 4
    assert sandbox.state.counts()["webinars"] == 3 and sandbox.config.attendance_ratio == 0.5
    assert sandbox.faults.settings.latency == 0.02
    assert sandbox.url("/x") == "http://127.0.0.1:9999/x"
