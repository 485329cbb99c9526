"""GoToAssist Remote Support and the sandbox extension group (capabilities)."""

from __future__ import annotations

import json
from datetime import timedelta

from liaison.sandbox.goto.base import iso_z

G2A = "/G2A/rest/v1"
X = f"{G2A}/x-sandbox"
NOT_FOUND_KEYS = {"errorCode", "message"}


def test_create_session_with_partner_reference(client, sandbox, auth, organizer):
    answer = client.post(f"{G2A}/sessions", headers=auth, json={
        "sessionType": "screen_sharing", "partnerObject": "INC-12345",
        "partnerObjectUrl": "https://crm.example.com/tickets/12345", "customerName": "Jane Doe",
        "customerEmail": "jane@example.com", "machineUuid": ""})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "notStarted" and body["sessionType"] == "screen_sharing"
    assert body["partnerObject"] == "INC-12345" and body["customerEmail"] == "jane@example.com"
    assert body["expertUserKey"] == str(organizer.organizer_key) and body["expertEmail"] == organizer.email
    assert body["customerJoinUrl"] == f"http://sandbox/gotoassist/join/{body['sessionStartToken']}"
    assert body["startScreenSharing"]["launchUrl"] == f"http://sandbox/gotoassist/launch/{body['sessionStartToken']}"
    assert body["startedAt"] is None and body["endedAt"] is None
    detail = client.get(f"{G2A}/sessions/{body['sessionId']}", headers=auth).json()
    assert detail["sessionId"] == body["sessionId"]
    by_token = client.get(f"{G2A}/sessions/{body['sessionStartToken']}", headers=auth).json()
    assert by_token["sessionId"] == body["sessionId"]
    assert client.post(f"{G2A}/sessions", headers=auth, json={"sessionType": "remote_view"}).status_code == 400
    assert client.post(f"{G2A}/sessions", headers=auth, json={"sessionType": "screen_sharing",
                                                               "machineUuid": "abc"}).status_code == 404
    assert client.get(f"{G2A}/sessions/999", headers=auth).status_code == 404


def test_list_sessions_by_time_window(client, sandbox, auth, organizer, everything):
    body = client.get(f"{G2A}/sessions", headers=auth, params={**everything, "sessionType": "SCREEN_SHARING"}).json()
    expected = [s for s in sandbox.state.assist_sessions.values() if s.account_key == organizer.account_key]
    assert body["totalNumSessions"] == len(expected) == len(body["sessions"])
    assert all(s["sessionType"] == "screen_sharing" for s in body["sessions"])
    statuses = {s["status"] for s in body["sessions"]}
    assert "complete" in statuses
    assert client.get(f"{G2A}/sessions", headers=auth, params={"toTime": everything["toTime"]}).status_code == 400
    assert client.get(f"{G2A}/sessions", headers=auth, params={**everything, "sessionType": "x"}).status_code == 400
    now = sandbox.now()
    recent = client.get(f"{G2A}/sessions", headers=auth, params={
        "fromTime": iso_z(now - timedelta(days=7)), "toTime": iso_z(now)}).json()
    assert recent["totalNumSessions"] == sum(1 for s in expected if s.created_at >= now - timedelta(days=7))
    extended = client.get(f"{G2A}/extendedsessions", headers=auth, params=everything).json()
    assert [s["sessionId"] for s in extended["sessions"]] == [s["sessionId"] for s in body["sessions"]]


def test_transcript_of_a_completed_session(client, sandbox, auth, organizer):
    done = next(s for s in sandbox.state.assist_sessions.values()
                if s.status == "complete" and s.account_key == organizer.account_key)
    events = client.get(f"{G2A}/sessions/{done.session_id}/events", headers=auth).json()
    assert events["sessionId"] == done.session_id
    assert events["events"] and set(events["events"][0]) == {"timeStamp", "content", "participantName"}
    fresh = sandbox.add_assist_session()
    assert client.get(f"{G2A}/sessions/{fresh.session_id}/events", headers=auth).status_code == 404


def test_lifecycle_and_status_callbacks(client, sandbox, auth, deliveries):
    created = client.post(f"{G2A}/sessions", headers=auth, json={
        "sessionType": "screen_sharing", "customerName": "Jane", "customerEmail": "jane@example.com",
        "sessionStatusCallbackUrl": "https://crm.example.com/g2a"}).json()
    launch = client.get(created["startScreenSharing"]["launchUrl"].removeprefix("http://sandbox"))
    assert launch.status_code == 200
    assert client.get(f"{G2A}/sessions/{created['sessionId']}", headers=auth).json()["status"] == "waiting"
    join = client.get(created["customerJoinUrl"].removeprefix("http://sandbox"))
    assert join.status_code == 200
    sandbox.advance(900)
    sandbox.end_assist_session(created["sessionId"], resolution="resolved", notes="Fixed", recording=True)
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    detail = client.get(f"{G2A}/sessions/{created['sessionId']}", headers=auth).json()
    assert detail["status"] == "complete" and detail["notes"] == "Fixed"
    assert detail["endedAt"] and detail["sessionRecordingUrl"]
    bodies = [json.loads(b) for url, _, b in deliveries.calls if url == "https://crm.example.com/g2a"]
    assert [b["status"] for b in bodies] == ["waiting", "active", "complete"]
    assert all(b["sessionId"] == created["sessionId"] for b in bodies)
    # A session whose customer never joined ends as abandoned.
    other = sandbox.add_assist_session("Nobody", "nobody@example.com")
    sandbox.start_assist_session(other.session_id, customer_joins=False)
    assert sandbox.end_assist_session(other.session_id).status == "abandoned"


def test_browser_launch_without_authentication(client):
    answer = client.get(f"{G2A}/session", params={"sessionType": "SCREEN_SHARING", "partnerObject": "INC-1"})
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("http://sandbox/gotoassist/launch/")


def test_capabilities_probe_and_toggle(client, sandbox, auth, organizer):
    body = client.get(f"{X}/capabilities", headers=auth).json()
    assert body["capabilities"] == sorted(["sessionReports", "connectionCodes", "agentStatus", "waitingQueue"])
    sandbox.set_g2a_capability(organizer.account_key, "waitingQueue", False)
    queue = client.get(f"{X}/queue", headers=auth)
    assert queue.status_code == 404 and set(queue.json()) == NOT_FOUND_KEYS
    assert queue.json()["errorCode"] == "NOT_FOUND"
    assert client.get(f"{X}/agents", headers=auth).status_code == 200
    for name in ("sessionReports", "connectionCodes", "agentStatus"):
        sandbox.set_g2a_capability(None, name, False)
    probe = client.get(f"{X}/capabilities", headers=auth)
    assert probe.status_code == 404 and probe.json()["errorCode"] == "NOT_FOUND"
    # The same answer as an unrouted path (what the real api.getgo.com gives for this probe).
    assert set(client.get(f"{G2A}/no-such-thing", headers=auth).json()) == NOT_FOUND_KEYS
    sandbox.set_g2a_capability(None, "sessionReports", True)
    assert client.get(f"{X}/capabilities", headers=auth).json()["capabilities"] == ["sessionReports"]
    # Without a token the extension answers like the rest of the API.
    assert client.get(f"{X}/capabilities").status_code == 403


def test_session_report_with_rating_resolution_and_custom_fields(client, sandbox, auth, everything):
    s = sandbox.add_assist_session("Jane Doe", "jane@example.com", partner_object="INC-9",
                                   portal="Premium support", custom_fields={"Product": "Liaison Cloud"})
    sandbox.start_assist_session(s.session_id, chat=[("Jane Doe", "Hello"), ("Expert", "Hi Jane")])
    sandbox.advance(600)
    sandbox.end_assist_session(s.session_id, resolution="unresolved", recording=True)
    sandbox.rate_assist_session(s.session_id, 4, "Helpful", resolution="resolved")
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    report = client.get(f"{X}/sessions/{s.session_id}/report", headers=auth).json()
    assert report["agent"]["userKey"] == str(s.expert_key)
    assert report["entryPortal"] == "Premium support" and report["customFields"] == {"Product": "Liaison Cloud"}
    assert report["resolution"] == "resolved" and report["rating"] == 4 and report["feedback"] == "Helpful"
    assert report["durationSeconds"] == 600 and report["replayUrl"].endswith(f"/gotoassist/recordings/{s.session_id}")
    assert [e["content"] for e in report["events"]] == ["Hello", "Hi Jane"]
    listing = client.get(f"{X}/sessionReports", headers=auth, params=everything).json()
    assert s.session_id in [r["sessionId"] for r in listing["sessionReports"]]
    assert listing["totalNumSessions"] == len(listing["sessionReports"])
    rated = [r for r in listing["sessionReports"] if r["rating"] is not None]
    assert rated and all(1 <= r["rating"] <= 5 for r in rated)


def test_connection_codes(client, sandbox, auth):
    created = client.post(f"{X}/connectionCodes", headers=auth, json={"partnerObject": "INC-7", "validMinutes": 10})
    assert created.status_code == 201
    code = created.json()
    assert len(code["code"]) == 9 and code["status"] == "active"
    session = client.get(f"{G2A}/sessions/{code['sessionId']}", headers=auth).json()
    assert session["partnerObject"] == "INC-7"
    assert [c["code"] for c in client.get(f"{X}/connectionCodes", headers=auth).json()["codes"]] == [code["code"]]
    assert client.delete(f"{X}/connectionCodes/{code['code']}", headers=auth).status_code == 204
    assert client.delete(f"{X}/connectionCodes/{code['code']}", headers=auth).status_code == 404
    assert client.get(f"{X}/connectionCodes", headers=auth).json()["codes"] == []
    for _ in range(8):
        assert client.post(f"{X}/connectionCodes", headers=auth).status_code == 201
    assert client.post(f"{X}/connectionCodes", headers=auth).status_code == 409
    sandbox.advance(timedelta(minutes=21))
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    assert client.post(f"{X}/connectionCodes", headers=auth).status_code == 201  # the old ones expired


def test_agents_and_queue(client, sandbox, auth, organizer):
    waiting = sandbox.add_assist_session("Waiting Person", "w@example.com")
    sandbox.start_assist_session(waiting.session_id, customer_joins=False)
    active = sandbox.add_assist_session("Active Person", "a@example.com")
    sandbox.start_assist_session(active.session_id)
    agents = {a["userKey"]: a for a in client.get(f"{X}/agents", headers=auth).json()["agents"]}
    me = agents[str(organizer.organizer_key)]
    assert me["status"] == "busy" and me["activeSessions"] >= 1 and me["waitingSessions"] >= 1
    queue = client.get(f"{X}/queue", headers=auth).json()
    assert waiting.session_id in [c["sessionId"] for c in queue["customers"]]
    assert active.session_id not in [c["sessionId"] for c in queue["customers"]]
    assert queue["waitingCount"] == len(queue["customers"])
    assert client.put(f"{X}/agents/{organizer.organizer_key}/status", headers=auth,
                      json={"status": "offline"}).status_code == 204
    agents = {a["userKey"]: a for a in client.get(f"{X}/agents", headers=auth).json()["agents"]}
    assert agents[str(organizer.organizer_key)]["status"] == "offline"
    assert client.put(f"{X}/agents/{organizer.organizer_key}/status", headers=auth,
                      json={"status": "sleeping"}).status_code == 400
