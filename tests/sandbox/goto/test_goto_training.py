"""GoToTraining: trainings, registrants, start URLs and reports."""

from __future__ import annotations

from datetime import timedelta

import httpx

from liaison.sandbox.goto import GoToSandbox, SandboxSettings
from liaison.sandbox.goto.base import iso_z

G2T = "/G2T/rest"


def _future(sandbox, days=2, hours=2):
    start = (sandbox.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=hours)


def _create(client, sandbox, auth, ok, name="Onboarding", slots=None):
    slots = slots or [_future(sandbox)]
    answer = client.post(f"{G2T}/organizers/{ok}/trainings", headers=auth, json={
        "name": name, "description": "How to start", "timeZone": "Europe/Berlin",
        "times": [{"startDate": iso_z(s), "endDate": iso_z(e)} for s, e in slots],
        "registrationSettings": {"disableConfirmationEmail": False, "disableWebRegistration": True}})
    assert answer.status_code == 201
    return answer


def test_create_answers_a_bare_json_string_key(client, sandbox, auth, ok, organizer):
    answer = _create(client, sandbox, auth, ok)
    assert answer.content.startswith(b'"') and answer.content.endswith(b'"')
    key = answer.json()
    assert isinstance(key, str) and int(key) > 2**53
    training = client.get(f"{G2T}/organizers/{ok}/trainings/{key}", headers=auth).json()
    assert training["trainingKey"] == key and len(training["trainingId"]) == 9
    assert training["name"] == "Onboarding" and training["timeZone"] == "Europe/Berlin"
    assert set(training["times"][0]) == {"startDate", "endDate"}
    assert training["organizers"] == [{"organizerKey": str(ok), "email": organizer.email,
                                       "givenName": organizer.first_name, "surname": organizer.last_name}]
    assert training["registrationSettings"] == {"disableWebRegistration": True, "disableConfirmationEmail": False}
    listed = client.get(f"{G2T}/organizers/{ok}/trainings", headers=auth).json()
    assert key in [t["trainingKey"] for t in listed]


def test_list_only_scheduled_trainings(client, sandbox, auth, ok):
    now = sandbox.now()
    listed = {t["trainingKey"] for t in client.get(f"{G2T}/organizers/{ok}/trainings", headers=auth).json()}
    expected = {str(t.training_key) for t in sandbox.state.trainings.values()
                if t.organizer_key == ok and t.last_end > now}
    assert listed == expected
    done = next((t for t in sandbox.state.trainings.values() if t.organizer_key == ok and t.last_end <= now), None)
    if done is not None:
        assert str(done.training_key) not in listed


def test_validation_and_no_such_training(client, sandbox, auth, ok):
    start, end = _future(sandbox)
    url = f"{G2T}/organizers/{ok}/trainings"
    good = {"name": "x", "timeZone": "Europe/Paris", "times": [{"startDate": iso_z(start), "endDate": iso_z(end)}]}
    for change in ({"name": ""}, {"timeZone": None}, {"times": []},
                   {"times": [{"startDate": iso_z(end), "endDate": iso_z(start)}]},
                   {"times": [{"startTime": iso_z(start), "endTime": iso_z(end)}]}):
        body = {**good, **change}
        body = {k: v for k, v in body.items() if v is not None}
        assert client.post(url, headers=auth, json=body).status_code == 400, change
    long = client.post(url, headers=auth, json={**good, "times": [{"startDate": iso_z(start),
                                                                   "endDate": iso_z(start + timedelta(hours=30))}]})
    assert long.json()["errorCode"] == "InvalidTrainingDatesMaxDuration"
    missing = client.get(f"{url}/1234567890123456789", headers=auth)
    assert missing.status_code == 404
    body = missing.json()
    assert body["errorCode"] == "NoSuchTraining" and isinstance(body["incident"], int)
    assert client.get(f"{url}/1234567890123456789/registrants", headers=auth).json()["errorCode"] == "NoSuchTraining"


def test_registrants_and_duplicate_returns_existing_key(client, sandbox, auth, ok):
    key = _create(client, sandbox, auth, ok).json()
    url = f"{G2T}/organizers/{ok}/trainings/{key}/registrants"
    created = client.post(url, headers=auth, json={"email": "ada@example.com", "givenName": "Ada",
                                                   "surname": "Lovelace"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"joinUrl", "confirmationUrl", "registrantKey"}
    rk = body["registrantKey"]
    assert isinstance(rk, str) and body["joinUrl"].startswith(f"http://sandbox/gototraining/join/{key}/")
    dup = client.post(url, headers=auth, json={"email": "Ada@Example.com", "givenName": "A", "surname": "L"})
    assert dup.status_code == 409
    error = dup.json()
    assert error["errorCode"] == "DuplicateRegistrant"
    assert error["registrantKey"] == int(rk)
    assert error["description"] == "Registration failed, email address already in use."
    assert isinstance(error["incident"], int)
    listed = client.get(url, headers=auth).json()
    assert [r["registrantKey"] for r in listed] == [rk]
    one = client.get(f"{url}/{rk}", headers=auth).json()
    assert one == listed[0] and one["status"] == "APPROVED" and one["givenName"] == "Ada"
    assert client.delete(f"{url}/{rk}", headers=auth).status_code == 204
    assert client.get(f"{url}/{rk}", headers=auth).status_code == 404
    again = client.post(url, headers=auth, json={"email": "ada@example.com", "givenName": "Ada", "surname": "L"})
    assert again.status_code == 201 and again.json()["registrantKey"] != rk
    assert client.post(url, headers=auth, json={"email": "bad", "givenName": "A", "surname": "B"}).status_code == 400


def test_registrant_cache_lag(clock, deliveries):
    sandbox = GoToSandbox(seed=5, clock=clock, deliver=deliveries,
                          settings=SandboxSettings(g2t_registrant_lag_seconds=7200))
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox")
    ok = sandbox.default_organizer().organizer_key
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    key = _create(client, sandbox, auth, ok).json()
    url = f"{G2T}/organizers/{ok}/trainings/{key}/registrants"
    rk = client.post(url, headers=auth, json={"email": "late@example.com", "givenName": "L", "surname": "S"}
                     ).json()["registrantKey"]
    assert client.get(url, headers=auth).json() == []
    assert client.get(f"{url}/{rk}", headers=auth).status_code == 404
    assert client.post(url, headers=auth, json={"email": "late@example.com", "givenName": "L", "surname": "S"}
                       ).status_code == 409
    sandbox.advance(7200)
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    assert [r["registrantKey"] for r in client.get(url, headers=auth).json()] == [rk]


def test_start_manage_and_settings(client, sandbox, auth, ok, organizer):
    key = _create(client, sandbox, auth, ok).json()
    base = f"{G2T}/organizers/{ok}/trainings/{key}"
    assert client.get(f"{base}/startUrl", headers=auth).json() == f"http://sandbox/gototraining/start/{key}"
    assert client.get(f"{base}/manageUrl", headers=auth).json() == f"http://sandbox/gototraining/manage/{key}"
    host = client.get(f"{G2T}/trainings/{key}/start", headers=auth).json()
    assert set(host) == {"hostURL"} and host["hostURL"].startswith("http://sandbox/gototraining/start/")
    assert client.put(f"{base}/nameDescription", headers=auth, json={"name": "Renamed", "description": "New"}
                      ).status_code == 204
    client.post(f"{base}/registrants", headers=auth, json={"email": "a@example.com", "givenName": "A",
                                                           "surname": "B"})
    start, end = _future(sandbox, days=4)
    notified = client.put(f"{base}/times", headers=auth, json={
        "timeZone": "Europe/Paris", "times": [{"startDate": iso_z(start), "endDate": iso_z(end)}],
        "notifyTrainers": False})
    assert notified.status_code == 200
    assert notified.json() == {"notifiedRegistrants": 1, "notifiedTrainers": 0}
    training = client.get(base, headers=auth).json()
    assert training["name"] == "Renamed" and training["times"] == [{"startDate": iso_z(start),
                                                                    "endDate": iso_z(end)}]
    other = next(o for o in sandbox.state.organizers.values() if o.organizer_key != ok)
    assert client.put(f"{base}/organizers", headers=auth, json={"organizers": [other.organizer_key]}
                      ).status_code == 204
    keys = [o["organizerKey"] for o in client.get(f"{base}/organizers", headers=auth).json()]
    assert keys == [str(ok), str(other.organizer_key)]
    assert client.put(f"{base}/registrationSettings", headers=auth, json={
        "disableWebRegistration": False, "disableConfirmationEmail": True}).status_code == 204
    assert client.put(f"{base}/registrationSettings", headers=auth, json={}).status_code == 400
    organizers = client.get(f"{G2T}/accounts/{organizer.account_key}/organizers", headers=auth).json()
    assert {o["organizerKey"] for o in organizers} == {str(o.organizer_key) for o in sandbox.state.organizers.values()}
    assert client.delete(base, headers=auth).status_code == 204
    assert client.get(base, headers=auth).json()["errorCode"] == "NoSuchTraining"


def test_reports_sessions_and_attendees_with_no_shows(client, sandbox, auth, ok):
    now = sandbox.now()
    t = next(t for t in sandbox.state.trainings.values() if t.organizer_key == ok and any(s.end <= now for s in
                                                                                           t.sessions))
    rep = f"{G2T}/reports/organizers/{ok}"
    sessions = client.get(f"{rep}/trainings/{t.training_key}", headers=auth).json()
    ended = [s for s in t.sessions if s.end <= now]
    assert [s["sessionKey"] for s in sessions] == [str(s.session_key) for s in ended]
    first = sessions[0]
    assert set(first) == {"sessionKey", "trainingName", "sessionStartTime", "sessionEndTime", "attendanceCount",
                          "duration", "organizers"}
    assert first["duration"] == int((ended[0].end - ended[0].start).total_seconds() // 60)
    assert first["attendanceCount"] == len(ended[0].attendance)

    attendees = client.get(f"{rep}/sessions/{first['sessionKey']}/attendees", headers=auth).json()
    assert len(attendees) == len(t.registrants)
    attended = attendees[: len(ended[0].attendance)]
    no_shows = attendees[len(ended[0].attendance):]
    assert all(a["timeInSession"] > 0 and a["inSessionTimes"] for a in attended)
    assert all(a["timeInSession"] == 0 and a["inSessionTimes"] == [] for a in no_shows)
    assert no_shows, "the seed gives every training session some no-shows"
    for a in attended:
        assert a["timeInSession"] == sum(p["timeInPartOfSession"] for p in a["inSessionTimes"])

    window = client.post(f"{rep}/sessions", headers=auth, json={
        "startDate": iso_z(ended[0].start - timedelta(minutes=1)), "endDate": iso_z(ended[0].start)}).json()
    assert str(ended[0].session_key) in [s["sessionKey"] for s in window]
    assert client.post(f"{rep}/sessions", headers=auth, json={}).status_code == 400


def test_simulated_training_session_and_recordings(client, sandbox, auth, ok):
    t = sandbox.add_training("Simulated training")
    a = sandbox.add_training_registrant(t.training_key, "a@example.com", "A", "Person")
    sandbox.add_training_registrant(t.training_key, "b@example.com", "B", "Person")
    start, end = t.times[0]
    session = sandbox.simulate_training_session(t.training_key, {a.registrant_key: [(start, start + timedelta(
        minutes=45))]})
    sandbox.advance(end - sandbox.now() + timedelta(minutes=5))
    auth = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    attendees = client.get(f"{G2T}/reports/organizers/{ok}/sessions/{session.session_key}/attendees",
                           headers=auth).json()
    assert [(x["email"], x["timeInSession"]) for x in attendees] == [("a@example.com", 45), ("b@example.com", 0)]

    with_recording = next(x for x in sandbox.state.trainings.values() if x.recordings)
    owner = {"Authorization": f"Bearer {sandbox.mint_token(with_recording.organizer_key)['access_token']}"}
    listing = client.get(f"{G2T}/trainings/{with_recording.training_key}/recordings", headers=owner).json()
    assert listing["trainingKey"] == with_recording.training_key
    rec = listing["recordingList"][0]
    download = client.get(f"{G2T}/trainings/{with_recording.training_key}/recordings/{rec['recordingId']}",
                          headers=owner)
    assert download.status_code == 302 and download.headers["location"] == rec["downloadUrl"]
