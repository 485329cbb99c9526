"""GoToWebinar webhooks: setup calls, signed deliveries, delivery log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import httpx
import pytest

from liaison.sandbox.goto import GoToSandbox, SandboxSettings, verify_signature
from liaison.sandbox.goto.base import iso_z
from liaison.sandbox.goto.webhooks import urllib_deliver

G2W = "/G2W/rest/v2"
EVENTS = ["registrant.added", "registrant.joined", "webinar.created", "webinar.changed"]


def _setup(client, auth, url="https://hooks.example.com/goto", events=EVENTS):
    secret = client.post(f"{G2W}/webhooks/secretkey", headers=auth, json={})
    assert secret.status_code == 200
    created = client.post(f"{G2W}/webhooks", headers=auth, json=[
        {"callbackUrl": url, "eventName": e, "eventVersion": "1.0.0", "product": "g2w"} for e in events])
    assert created.status_code == 200
    hooks = created.json()["_embedded"]["webhooks"]
    assert [h["state"] for h in hooks] == ["INACTIVE"] * len(events)
    assert client.put(f"{G2W}/webhooks", headers=auth,
                      json=[{"webhookKey": h["webhookKey"], "state": "ACTIVE"} for h in hooks]).status_code == 204
    subs = client.post(f"{G2W}/userSubscriptions", headers=auth,
                       json=[{"webhookKey": h["webhookKey"], "userSubscriptionState": "ACTIVE"} for h in hooks])
    assert subs.status_code == 200
    return secret.json(), hooks, subs.json()["_embedded"]["userSubscriptions"]


def _future(sandbox, days=3):
    start = (sandbox.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return [{"startTime": iso_z(start), "endTime": iso_z(start + timedelta(hours=1))}]


def test_secret_key_shape(client, auth, sandbox):
    body = client.post(f"{G2W}/webhooks/secretkey", headers=auth, json={}).json()
    assert set(body) == {"id", "value", "validFrom"}
    assert isinstance(body["id"], int) and uuid.UUID(body["value"])
    later = client.post(f"{G2W}/webhooks/secretkey", headers=auth,
                        json={"validFrom": "2030-01-01T00:00:00Z"}).json()
    assert later["validFrom"] == "2030-01-01T00:00:00.000Z" and later["id"] == body["id"] + 1
    # Without a body as well.
    assert client.post(f"{G2W}/webhooks/secretkey", headers=auth).status_code == 200


def test_signed_deliveries_for_all_events(client, sandbox, auth, ok, deliveries):
    secret, hooks, subs = _setup(client, auth)
    assert all(s["activationState"] == "ACTIVE" for s in subs)

    created = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth,
                          json={"subject": "Hooked", "times": _future(sandbox)})
    key = int(created.json()["webinarKey"])
    registered = client.post(f"{G2W}/organizers/{ok}/webinars/{key}/registrants", headers=auth,
                             json={"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}).json()
    assert client.put(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth,
                      json={"subject": "Hooked again"}).status_code == 202
    w = sandbox.state.webinars[key]
    sandbox.simulate_session(key, {registered["registrantKey"]: None})
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth).status_code == 204

    events = []
    for url, headers, body in deliveries.calls:
        assert url == "https://hooks.example.com/goto"
        assert headers["Content-Type"] == "application/json"
        assert verify_signature(secret["value"], headers, body)
        expected = base64.b64encode(hmac.new(secret["value"].encode(),
                                             headers["x-webhook-signature-timestamp"].encode() + b":" + body,
                                             hashlib.sha256).digest()).decode()
        assert headers["x-webhook-signature"] == expected
        assert not verify_signature("another-secret", headers, body)
        assert not verify_signature(secret["value"], headers, body + b" ")
        events.append(json.loads(body))
    names = [e["eventName"] for e in events]
    assert names == ["webinar.created", "registrant.added", "webinar.changed", "registrant.joined",
                     "webinar.changed"]
    assert len({e["eventKey"] for e in events}) == len(events)
    for e in events:
        assert e["eventVersion"] == "1.0.0" and e["product"] == "g2w" and e["webinarKey"] == key
        uuid.UUID(e["eventKey"])
    created_event, added, updated, joined, deleted = events
    assert created_event["status"] == "NEW" and created_event["organizerKey"] == ok
    assert created_event["accountKey"] == w.account_key and created_event["webinarTitle"] == "Hooked"
    assert added["registrantKey"] == registered["registrantKey"] and added["email"] == "ada@example.com"
    assert added["joinUrl"] == registered["joinUrl"] and added["status"] == "Approved"
    assert added["webinarCreatorKey"] == ok
    assert updated["status"] == "UPDATED" and updated["webinarTitle"] == "Hooked again"
    assert joined["registrantKey"] == registered["registrantKey"]
    assert joined["joinTime"] == int(w.times[0][0].timestamp() * 1000)
    assert isinstance(joined["sessionKey"], int)
    assert deleted["status"] == "DELETED"
    log = sandbox.webhooks.log.all()
    assert len(log) == 5 and all(d.ok and d.status == 200 for d in log)


def test_no_delivery_when_inactive(client, sandbox, auth, ok, deliveries):
    _, hooks, subs = _setup(client, auth, events=["webinar.created"])
    hook = hooks[0]["webhookKey"]
    sub = subs[0]["userSubscriptionKey"]
    assert client.put(f"{G2W}/userSubscriptions", headers=auth, json=[
        {"webhookKey": hook, "userSubscriptionKey": sub, "userSubscriptionState": "INACTIVE"}]).status_code == 204
    got = client.get(f"{G2W}/userSubscriptions/{sub}", headers=auth).json()
    assert got["userSubscriptionState"] == "INACTIVE" and got["activationState"] == "INACTIVE"
    client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={"subject": "Quiet", "times": _future(sandbox)})
    assert deliveries.calls == []
    client.put(f"{G2W}/userSubscriptions", headers=auth, json=[
        {"webhookKey": hook, "userSubscriptionKey": sub, "userSubscriptionState": "ACTIVE"}])
    client.put(f"{G2W}/webhooks", headers=auth, json=[{"webhookKey": hook, "state": "INACTIVE"}])
    client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={"subject": "Quiet", "times": _future(sandbox)})
    assert deliveries.calls == []
    client.put(f"{G2W}/webhooks", headers=auth, json=[{"webhookKey": hook, "state": "ACTIVE"}])
    client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={"subject": "Loud", "times": _future(sandbox)})
    assert len(deliveries.calls) == 1


def test_subscription_callback_url_overrides_the_webhook_one(client, sandbox, auth, ok, deliveries):
    client.post(f"{G2W}/webhooks/secretkey", headers=auth, json={})
    hook = client.post(f"{G2W}/webhooks", headers=auth, json=[{
        "callbackUrl": "https://hooks.example.com/app", "eventName": "webinar.created", "eventVersion": "1.0.0",
        "product": "g2w"}]).json()["_embedded"]["webhooks"][0]
    client.put(f"{G2W}/webhooks", headers=auth, json=[{"webhookKey": hook["webhookKey"], "state": "ACTIVE"}])
    client.post(f"{G2W}/userSubscriptions", headers=auth, json=[{
        "webhookKey": hook["webhookKey"], "callbackUrl": "https://hooks.example.com/user-1"}])
    client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={"subject": "X", "times": _future(sandbox)})
    assert [c[0] for c in deliveries.calls] == ["https://hooks.example.com/user-1"]


def test_events_of_other_organizers_are_not_delivered(client, sandbox, auth, deliveries):
    _setup(client, auth, events=["registrant.added"])
    other = next(o for o in sandbox.state.organizers.values() if o.organizer_key != sandbox.default_organizer()
                 .organizer_key)
    [w] = sandbox.add_webinar("Theirs", organizer=other)
    sandbox.add_registrant(w.webinar_key, "x@example.com")
    assert deliveries.calls == []
    [mine] = sandbox.add_webinar("Mine")
    sandbox.add_registrant(mine.webinar_key, "y@example.com")
    assert len(deliveries.calls) == 1


def test_webhook_management_calls(client, auth, sandbox):
    url = f"{G2W}/webhooks"
    no_secret = client.post(url, headers=auth, json=[{"callbackUrl": "https://a.example/h", "eventName":
                                                      "webinar.created", "eventVersion": "1.0.0", "product": "g2w"}])
    assert no_secret.status_code == 400
    _, hooks, subs = _setup(client, auth, events=["webinar.created", "webinar.changed"])
    for bad in ({"callbackUrl": "http://a.example/h"}, {"eventName": "webinar.exploded"},
                {"eventVersion": "2.0.0"}, {"product": "g2m"}, {"callbackUrl": "not a url"}):
        item = {"callbackUrl": "https://a.example/h", "eventName": "webinar.created", "eventVersion": "1.0.0",
                "product": "g2w", **bad}
        assert client.post(url, headers=auth, json=[item]).status_code == 400, bad
    local = client.post(url, headers=auth, json=[{"callbackUrl": "http://localhost:8000/hooks/goto",
                                                  "eventName": "webinar.created", "eventVersion": "1.0.0",
                                                  "product": "g2w"}])
    assert local.status_code == 200
    assert client.get(url, headers=auth).status_code == 400  # product is required
    listed = client.get(url, headers=auth, params={"product": "g2w"}).json()["_embedded"]["webhooks"]
    assert len(listed) == 3
    key = hooks[0]["webhookKey"]
    one = client.get(f"{url}/{key}", headers=auth).json()
    assert one["webhookKey"] == key and one["state"] == "ACTIVE" and one["eventName"] == "webinar.created"
    assert client.put(url, headers=auth, json=[{"webhookKey": key, "callbackUrl": "https://new.example/h"}]
                      ).status_code == 204
    assert client.get(f"{url}/{key}", headers=auth).json()["callbackUrl"] == "https://new.example/h"
    assert client.put(url, headers=auth, json=[{"webhookKey": "missing", "state": "ACTIVE"}]).status_code == 404
    deleted = client.request("DELETE", url, headers=auth, json=[key])
    assert deleted.status_code == 202
    assert client.get(f"{url}/{key}", headers=auth).status_code == 404
    subs_left = client.get(f"{G2W}/userSubscriptions", headers=auth, params={"product": "g2w"}).json()
    assert [s["webhookKey"] for s in subs_left["_embedded"]["userSubscriptions"]] == [hooks[1]["webhookKey"]]
    sub = subs_left["_embedded"]["userSubscriptions"][0]["userSubscriptionKey"]
    assert client.request("DELETE", f"{G2W}/userSubscriptions", headers=auth, json=[sub]).status_code == 202
    assert client.get(f"{G2W}/userSubscriptions/{sub}", headers=auth).status_code == 404
    # Webhooks belong to the OAuth application: another client does not see them.
    sandbox.add_oauth_client("other-app", "other-secret")
    other = sandbox.mint_token(client_id="other-app")["access_token"]
    theirs = client.get(url, headers={"Authorization": f"Bearer {other}"}, params={"product": "g2w"}).json()
    assert theirs["_embedded"]["webhooks"] == []


def test_failed_delivery_is_logged_not_raised(clock, recorder_factory):
    def broken(url, headers, body):
        raise ConnectionError("receiver down")

    sandbox = GoToSandbox(seed=3, clock=clock, deliver=broken)
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox")
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    _setup(client, auth, events=["webinar.created"])
    ok = sandbox.default_organizer().organizer_key
    answer = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth,
                         json={"subject": "Still works", "times": _future(sandbox)})
    assert answer.status_code == 201
    [record] = sandbox.webhooks.log.all()
    assert not record.ok and "receiver down" in record.error and record.status is None
    status_500 = recorder_factory(status=500)
    sandbox.webhooks.deliver = status_500
    client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={"subject": "Again", "times": _future(sandbox)})
    assert sandbox.webhooks.log.all()[-1].error == "HTTP 500"


def test_default_deliverer_uses_urllib_and_never_raises(monkeypatch):
    seen = {}

    class FakeResponse:
        status = 204

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(request, timeout):
        seen.update(url=request.full_url, method=request.get_method(), body=request.data, timeout=timeout,
                    signature=request.get_header("X-webhook-signature"))
        return FakeResponse()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    deliver = urllib_deliver(timeout=1.5)
    assert deliver("https://h.example/x", {"x-webhook-signature": "abc"}, b"{}") == 204
    assert seen == {"url": "https://h.example/x", "method": "POST", "body": b"{}", "timeout": 1.5,
                    "signature": "abc"}

    def refuse(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 410, "Gone", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert deliver("https://h.example/x", {}, b"{}") == 410


def test_callback_url_validation_with_probe(clock):
    probed = []

    def probe(url):
        probed.append(url)
        return 404 if "bad" in url else 200

    sandbox = GoToSandbox(seed=3, clock=clock, deliver=lambda *a: 200, probe=probe,
                          settings=SandboxSettings(validate_callback_urls=True))
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox")
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    client.post(f"{G2W}/webhooks/secretkey", headers=auth)
    item = {"eventName": "webinar.created", "eventVersion": "1.0.0", "product": "g2w"}
    assert client.post(f"{G2W}/webhooks", headers=auth, json=[{**item, "callbackUrl": "https://good.example/h"}]
                       ).status_code == 200
    bad = client.post(f"{G2W}/webhooks", headers=auth, json=[{**item, "callbackUrl": "https://bad.example/h"}])
    assert bad.status_code == 400 and "404" in bad.json()["description"]
    assert probed == ["https://good.example/h", "https://bad.example/h"]


@pytest.mark.parametrize("event", ["registrant.added", "registrant.joined"])
def test_keys_in_payloads_are_json_numbers(client, sandbox, auth, deliveries, event):
    _setup(client, auth, events=[event])
    [w] = sandbox.add_webinar("Numbers")
    r = sandbox.add_registrant(w.webinar_key, "n@example.com")
    if event == "registrant.joined":
        sandbox.simulate_session(w.webinar_key, {r.registrant_key: None})
    [(_, _, body)] = deliveries.calls
    assert f'"registrantKey":{r.registrant_key}'.encode() in body
    assert f'"webinarKey":{w.webinar_key}'.encode() in body


def test_background_deliveries(clock):
    delivered = threading.Event()
    seen = []

    def deliver(url, headers, body):
        seen.append(threading.current_thread().name)
        delivered.set()
        return 200

    sandbox = GoToSandbox(seed=3, clock=clock, deliver=deliver, settings=SandboxSettings(background_deliveries=True))
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox")
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    _setup(client, auth, events=["webinar.created"])
    ok = sandbox.default_organizer().organizer_key
    client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={"subject": "Bg", "times": _future(sandbox)})
    assert delivered.wait(5)
    assert seen == ["goto-sandbox-webhooks"]
