"""GoToWebinar v2: webinars, registrants, sessions, attendees and their details."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from liaison.sandbox.goto.base import iso_z

G2W = "/G2W/rest/v2"


def _future(sandbox, days=3, hours=1):
    start = (sandbox.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=hours)


def _times(*pairs):
    return [{"startTime": iso_z(s), "endTime": iso_z(e)} for s, e in pairs]


def _past_webinar(sandbox, organizer_key):
    now = sandbox.now()
    return next(w for w in sandbox.state.webinars.values()
                if w.organizer_key == organizer_key and w.last_end < now and w.visible_sessions(now)
                and w.type == "single_session")


def _error_shape(body):
    assert set(body) >= {"errorCode", "description", "incident"}
    assert isinstance(body["incident"], int)


# ---------------------------------------------------------------------------
# Listing webinars


def test_list_by_organizer_pages_with_hal_envelope(client, sandbox, auth, ok, everything):
    expected = sorted((w.first_start, w.webinar_key) for w in sandbox.state.webinars.values()
                      if w.organizer_key == ok and w.cancelled_at is None)
    first = client.get(f"{G2W}/organizers/{ok}/webinars", params={**everything, "size": 3}, headers=auth)
    assert first.status_code == 200
    body = first.json()
    assert body["page"] == {"size": 3, "totalElements": len(expected), "totalPages": -(-len(expected) // 3),
                            "number": 0}
    assert [w["webinarKey"] for w in body["_embedded"]["webinars"]] == [str(k) for _, k in expected[:3]]
    assert body["_links"]["self"]["href"].startswith(f"http://sandbox{G2W}/organizers/{ok}/webinars?")
    seen = []
    page = 0
    while True:
        data = client.get(f"{G2W}/organizers/{ok}/webinars", params={**everything, "size": 3, "page": page},
                          headers=auth).json()
        seen += [w["webinarKey"] for w in data["_embedded"]["webinars"]]
        if data["page"]["number"] + 1 >= data["page"]["totalPages"]:
            break
        page += 1
    assert seen == [str(k) for _, k in expected]
    default = client.get(f"{G2W}/organizers/{ok}/webinars", params=everything, headers=auth).json()
    assert default["page"]["size"] == 20


def test_list_item_fields(client, sandbox, auth, ok, everything):
    item = client.get(f"{G2W}/organizers/{ok}/webinars", params=everything, headers=auth).json()[
        "_embedded"]["webinars"][0]
    w = sandbox.state.webinars[int(item["webinarKey"])]
    assert item["organizerKey"] == str(ok) and item["accountKey"] == str(w.account_key)
    assert item["webinarID"] == item["webinarId"] == w.webinar_id and len(w.webinar_id) == 9
    assert item["times"] == _times(*w.times)
    assert item["recurrenceType"] == w.type
    assert item["registrationUrl"] == f"http://sandbox/gotowebinar/register/{w.webinar_key}"


def test_size_limit_and_bad_parameters(client, auth, ok, everything):
    url = f"{G2W}/organizers/{ok}/webinars"
    assert client.get(url, params={**everything, "size": 200}, headers=auth).status_code == 200
    too_big = client.get(url, params={**everything, "size": 201}, headers=auth)
    assert too_big.status_code == 400
    _error_shape(too_big.json())
    assert client.get(url, params={**everything, "size": 0}, headers=auth).status_code == 400
    assert client.get(url, params={**everything, "page": -1}, headers=auth).status_code == 400
    beyond = client.get(url, params={**everything, "page": 99}, headers=auth).json()
    assert beyond["_embedded"]["webinars"] == [] and beyond["page"]["number"] == 99


@pytest.mark.parametrize("missing", ["fromTime", "toTime"])
def test_missing_time_window_is_400(client, auth, ok, organizer, everything, missing):
    params = dict(everything)
    del params[missing]
    for url in (f"{G2W}/organizers/{ok}/webinars", f"{G2W}/accounts/{organizer.account_key}/webinars",
                f"{G2W}/organizers/{ok}/sessions"):
        answer = client.get(url, params=params, headers=auth)
        assert answer.status_code == 400
        body = answer.json()
        _error_shape(body)
        assert body["errorCode"] == "InvalidRequest"
        assert missing in body["description"]
    invalid = client.get(f"{G2W}/organizers/{ok}/webinars", params={**everything, "fromTime": "yesterday"},
                         headers=auth)
    assert invalid.status_code == 400


def test_time_window_filters(client, sandbox, auth, ok):
    now = sandbox.now()
    params = {"fromTime": iso_z(now), "toTime": iso_z(now + timedelta(days=365))}
    items = client.get(f"{G2W}/organizers/{ok}/webinars", params={**params, "size": 200}, headers=auth).json()
    starts = [w["times"][0]["startTime"] for w in items["_embedded"]["webinars"]]
    assert starts and all(s >= iso_z(now) for s in starts)


def test_list_by_account_and_other_account(client, sandbox, auth, organizer, everything):
    body = client.get(f"{G2W}/accounts/{organizer.account_key}/webinars", params={**everything, "size": 200},
                      headers=auth).json()
    assert body["page"]["totalElements"] == sum(1 for w in sandbox.state.webinars.values()
                                                if w.account_key == organizer.account_key)
    other = client.get(f"{G2W}/accounts/123/webinars", params=everything, headers=auth)
    assert other.status_code == 403


def test_other_organizer_requires_admin(client, sandbox, everything):
    plain = next(o for o in sandbox.state.organizers.values() if not o.is_admin)
    admin = sandbox.default_organizer()
    token = sandbox.mint_token(plain.email)["access_token"]
    answer = client.get(f"{G2W}/organizers/{admin.organizer_key}/webinars", params=everything,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    admin_token = sandbox.mint_token(admin.email)["access_token"]
    answer = client.get(f"{G2W}/organizers/{plain.organizer_key}/webinars", params=everything,
                        headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status_code == 200


# ---------------------------------------------------------------------------
# Create / get / update / cancel


def test_create_get_update_cancel(client, sandbox, auth, ok, organizer, everything):
    start, end = _future(sandbox)
    created = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={
        "subject": "Launch", "description": "All about it", "times": _times((start, end)),
        "timeZone": "Europe/Berlin", "type": "single_session"})
    assert created.status_code == 201
    key = created.json()["webinarKey"]
    assert isinstance(key, str) and int(key) > 2**53 and "recurrenceKey" not in created.json()
    got = client.get(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth)
    assert got.status_code == 200
    body = got.json()
    assert body["webinarKey"] == int(key) and body["organizerKey"] == ok
    assert body["accountKey"] == str(organizer.account_key)
    assert body["subject"] == "Launch" and body["timeZone"] == "Europe/Berlin" and body["type"] == "single_session"
    assert body["inSession"] is False and body["numberOfRegistrants"] == 0
    assert body["organizerEmail"] == organizer.email

    new_start, new_end = _future(sandbox, days=5, hours=2)
    updated = client.put(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth, params={"notifyParticipants": "true"},
                         json={"subject": "Launch v2", "times": _times((new_start, new_end))})
    assert updated.status_code == 202
    body = client.get(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth).json()
    assert body["subject"] == "Launch v2" and body["times"] == _times((new_start, new_end))
    window = {"fromTime": iso_z(new_start - timedelta(hours=1)), "toTime": iso_z(new_start + timedelta(hours=1))}
    listed = client.get(f"{G2W}/organizers/{ok}/webinars", params=window, headers=auth).json()
    assert [w["webinarKey"] for w in listed["_embedded"]["webinars"]] == [key]

    cancelled = client.delete(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth)
    assert cancelled.status_code == 204
    gone = client.get(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth)
    assert gone.status_code == 404
    _error_shape(gone.json())
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth).status_code == 404
    listed = client.get(f"{G2W}/organizers/{ok}/webinars", params=window, headers=auth).json()
    assert listed["page"]["totalElements"] == 0


def test_create_validation(client, sandbox, auth, ok):
    url = f"{G2W}/organizers/{ok}/webinars"
    start, end = _future(sandbox)
    past = (sandbox.now() - timedelta(days=1), sandbox.now() - timedelta(hours=23))
    cases = [
        {"times": _times((start, end))},
        {"subject": "x", "times": []},
        {"subject": "x", "times": _times(past)},
        {"subject": "x", "times": _times((end, start))},
        {"subject": "x", "times": _times((start, end), (start + timedelta(days=1), end + timedelta(days=1)))},
        {"subject": "x", "times": _times((start, end)), "timeZone": "Mars/Olympus"},
        {"subject": "x", "times": _times((start, end)), "type": "weird"},
        {"subject": "x" * 129, "times": _times((start, end))},
    ]
    for body in cases:
        answer = client.post(url, headers=auth, json=body)
        assert answer.status_code == 400, body
        _error_shape(answer.json())
    assert client.post(url, headers=auth, content=b"{not json", ).status_code == 400


def test_series_creates_one_webinar_per_time_and_cancel_all(client, sandbox, auth, ok):
    slots = [_future(sandbox, days=d) for d in (2, 4, 6)]
    created = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth,
                          json={"subject": "Series", "type": "series", "times": _times(*slots)}).json()
    assert "recurrenceKey" in created
    keys = sandbox.state.recurrences[int(created["recurrenceKey"])]
    assert len(keys) == 3 and keys[0] == int(created["webinarKey"])
    for key, slot in zip(keys, slots, strict=True):
        body = client.get(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth).json()
        assert body["type"] == "series" and body["times"] == _times(slot)
    # deleteAll=false cancels only the one webinar.
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{keys[1]}", headers=auth,
                         params={"deleteAll": "false"}).status_code == 204
    assert client.get(f"{G2W}/organizers/{ok}/webinars/{keys[0]}", headers=auth).status_code == 200
    # The default (deleteAll=true) cancels the remaining future sessions of the series.
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{keys[0]}", headers=auth).status_code == 204
    assert all(client.get(f"{G2W}/organizers/{ok}/webinars/{k}", headers=auth).status_code == 404 for k in keys)


def test_sequence_with_recurrence_pattern(client, sandbox, auth, ok):
    start, end = _future(sandbox)
    created = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth, json={
        "subject": "Weekly", "type": "sequence",
        "recurrenceStart": {"startTime": iso_z(start), "endTime": iso_z(end)},
        "recurrencePattern": "weekly", "recurrenceEnd": (start + timedelta(days=21)).date().isoformat()})
    assert created.status_code == 201
    key = created.json()["webinarKey"]
    times = client.get(f"{G2W}/organizers/{ok}/webinars/{key}/meetingtimes", headers=auth).json()
    assert times == _times(*[(start + timedelta(days=7 * i), end + timedelta(days=7 * i)) for i in range(4)])
    body = client.get(f"{G2W}/organizers/{ok}/webinars/{key}", headers=auth).json()
    assert body["type"] == "sequence" and body["recurrencePeriod"] == "weekly"


def test_live_webinar_cannot_be_cancelled_or_updated(client, sandbox, auth, everything):
    now = sandbox.now()
    live = next(w for w in sandbox.state.webinars.values() if w.in_session(now))
    ok = live.organizer_key
    token = sandbox.mint_token(ok)["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    answer = client.delete(f"{G2W}/organizers/{ok}/webinars/{live.webinar_key}", headers=h)
    assert answer.status_code == 409
    _error_shape(answer.json())
    assert client.put(f"{G2W}/organizers/{ok}/webinars/{live.webinar_key}", headers=h,
                      json={"subject": "x"}).status_code == 400
    body = client.get(f"{G2W}/organizers/{ok}/webinars/{live.webinar_key}", headers=h).json()
    assert body["inSession"] is True
    in_session = client.get(f"{G2W}/organizers/{ok}/insessionWebinars", headers=h,
                            params={"toTime": iso_z(now + timedelta(days=1))})
    assert [w["webinarKey"] for w in in_session.json()] == [live.webinar_key]
    assert client.get(f"{G2W}/organizers/{ok}/insessionWebinars", headers=h).status_code == 400


def test_start_url_copy_audio_coorganizers_panelists(client, sandbox, auth, ok):
    start, end = _future(sandbox)
    key = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth,
                      json={"subject": "Extras", "times": _times((start, end))}).json()["webinarKey"]
    assert client.get(f"{G2W}/webinars/{key}/startUrl", headers=auth).json() == {
        "startUrl": f"http://sandbox/gotowebinar/start/{key}"}
    copy = client.put(f"{G2W}/webinars/{key}/copy", headers=auth,
                      json={"subject": "Extras (copy)", "times": _times(_future(sandbox, days=9))})
    assert copy.status_code == 201 and copy.json()["webinarKey"] != key
    audio = client.get(f"{G2W}/organizers/{ok}/webinars/{key}/audio", headers=auth).json()
    assert audio["type"] == "Hybrid" and "US" in audio["confCallNumbers"]
    assert client.post(f"{G2W}/organizers/{ok}/webinars/{key}/audio", headers=auth,
                       json={"type": "VOIP"}).status_code == 204
    assert client.get(f"{G2W}/organizers/{ok}/webinars/{key}/audio", headers=auth).json() == {"type": "VOIP"}

    other = next(o for o in sandbox.state.organizers.values() if o.organizer_key != ok)
    co = client.post(f"{G2W}/organizers/{ok}/webinars/{key}/coorganizers", headers=auth, json=[
        {"external": False, "organizerKey": str(other.organizer_key)},
        {"external": True, "givenName": "Guest Speaker", "email": "guest@example.com"}])
    assert co.status_code == 201 and len(co.json()) == 2
    listed = client.get(f"{G2W}/organizers/{ok}/webinars/{key}/coorganizers", headers=auth).json()
    assert {c["email"] for c in listed} == {other.email, "guest@example.com"}
    external_key = next(c["memberKey"] for c in listed if c["external"])
    assert client.post(f"{G2W}/organizers/{ok}/webinars/{key}/coorganizers/{external_key}/resendInvitation",
                       headers=auth, params={"external": "true"}).status_code == 204
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{key}/coorganizers/{external_key}", headers=auth
                         ).status_code == 404  # external needs external=true
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{key}/coorganizers/{external_key}", headers=auth,
                         params={"external": "true"}).status_code == 204

    panel = client.post(f"{G2W}/organizers/{ok}/webinars/{key}/panelists", headers=auth,
                        json=[{"name": "Pat Panel", "email": "pat@example.com"}])
    assert panel.status_code == 201
    panelist_key = panel.json()[0]["panelistKey"]
    listed = client.get(f"{G2W}/organizers/{ok}/webinars/{key}/panelists", headers=auth).json()
    assert listed[0]["panelistId"] == int(panelist_key) and listed[0]["firstName"] == "Pat"
    assert client.delete(f"{G2W}/organizers/{ok}/webinars/{key}/panelists/{panelist_key}", headers=auth
                         ).status_code == 204


# ---------------------------------------------------------------------------
# Registrants


def test_registrants_bare_array_and_paginated_variant(client, sandbox, auth, ok):
    w = next(w for w in sandbox.state.webinars.values() if w.organizer_key == ok)
    url = f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/registrants"
    bare = client.get(url, headers=auth).json()
    assert isinstance(bare, list) and len(bare) == len(w.registrants)
    assert set(bare[0]) == {"lastName", "email", "firstName", "registrantKey", "registrationDate", "status",
                            "joinUrl", "timeZone"}
    page = client.get(url, params={"page": 1, "limit": 7}, headers=auth).json()
    assert set(page) == {"data", "total", "page", "limit", "pageSize"}
    assert page["total"] == len(w.registrants) and page["page"] == 1 and page["limit"] == 7
    assert page["pageSize"] == 7 and page["data"] == bare[7:14]
    only_page = client.get(url, params={"page": 0}, headers=auth).json()
    assert only_page["limit"] == 20 and only_page["data"] == bare[:20]
    assert client.get(url, params={"limit": 201}, headers=auth).status_code == 400
    last = client.get(url, params={"page": 1, "limit": 20}, headers=auth).json()
    assert last["pageSize"] == len(w.registrants) - 20 and last["data"] == bare[20:]


def _new_webinar(client, sandbox, auth, ok, **extra):
    start, end = _future(sandbox)
    key = client.post(f"{G2W}/organizers/{ok}/webinars", headers=auth,
                      json={"subject": "Reg", "times": _times((start, end)), **extra}).json()["webinarKey"]
    return int(key)


def test_create_registrant_duplicate_and_resend(client, sandbox, auth, ok):
    key = _new_webinar(client, sandbox, auth, ok)
    url = f"{G2W}/organizers/{ok}/webinars/{key}/registrants"
    created = client.post(url, headers=auth, json={"firstName": "Ada", "lastName": "Lovelace",
                                                   "email": "ada@example.com"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"registrantKey", "joinUrl"}
    rk = body["registrantKey"]
    assert isinstance(rk, int) and rk > 2**53
    assert body["joinUrl"].startswith(f"http://sandbox/gotowebinar/join/{key}/")
    assert not body["joinUrl"].endswith(str(rk))
    dup = client.post(url, headers=auth, json={"firstName": "Ada", "lastName": "L", "email": "ADA@example.com"})
    assert dup.status_code == 409
    _error_shape(dup.json())
    assert dup.json()["errorCode"] == "DuplicateRegistrant"
    resent = client.post(url, headers=auth, params={"resendConfirmation": "true"},
                         json={"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"})
    assert resent.status_code == 201 and resent.json()["registrantKey"] == rk
    mails = [m for m in sandbox.state.outbox if m.get("registrantKey") == rk]
    assert [m["resent"] for m in mails] == [False, True]
    detail = client.get(f"{url}/{rk}", headers=auth).json()
    assert detail["email"] == "ada@example.com" and detail["status"] == "APPROVED"
    assert detail["type"] == "REGULAR" and detail["unsubscribed"] is False
    for bad in ({"firstName": "A", "lastName": "B"}, {"firstName": "A", "lastName": "B", "email": "nope"}):
        assert client.post(url, headers=auth, json=bad).status_code == 400


def test_accept_header_variants_and_custom_questions(client, sandbox, auth, ok):
    [w] = sandbox.add_webinar("Questions", questions=[
        {"question": "Role?", "required": True, "answers": ["Buyer", "User"]},
        {"question": "Comments", "type": "shortAnswer"}], fields=[{"field": "organization", "required": True}])
    url = f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/registrants"
    fields = client.get(f"{url}/fields", headers=auth).json()
    assert [f["field"] for f in fields["fields"]] == ["firstName", "lastName", "email", "organization"]
    assert fields["fields"][3]["required"] is True
    role = fields["questions"][0]
    assert role["type"] == "multipleChoice" and role["required"] is True and len(role["answers"]) == 2
    person = {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "organization": "Navy",
              "jobTitle": "Admiral"}
    # application/json (the default): every required field and question must be supplied.
    missing = client.post(url, headers={**auth, "Accept": "application/json"}, json=person)
    assert missing.status_code == 400 and "Role?" in missing.json()["description"]
    complete = client.post(url, headers={**auth, "Accept": "application/json"}, json={
        **person, "responses": [{"questionKey": role["questionKey"], "answerKey": role["answers"][1]["answerKey"]},
                                {"questionKey": fields["questions"][1]["questionKey"], "responseText": "Hi"}]})
    assert complete.status_code == 201
    detail = client.get(f"{url}/{complete.json()['registrantKey']}", headers=auth).json()
    assert detail["organization"] == "Navy" and detail["jobTitle"] == "Admiral"
    assert detail["responses"] == [{"question": "Role?", "answer": "User"}, {"question": "Comments", "answer": "Hi"}]
    # The v1.1 media type takes only firstName, lastName and email, so required questions are not enforced.
    for accept in ("application/vnd.citrix.g2wapi-v1.1+json", "application/vnd.citrixonline.g2wapi-v1.1+json"):
        email = f"basic-{len(accept)}@example.com"
        basic = client.post(url, headers={**auth, "Accept": accept},
                            json={"firstName": "Basic", "lastName": "Only", "email": email, "organization": "X"})
        assert basic.status_code == 201
        detail = client.get(f"{url}/{basic.json()['registrantKey']}", headers=auth).json()
        assert "organization" not in detail and detail["responses"] == []


def test_get_and_delete_registrant(client, sandbox, auth, ok):
    key = _new_webinar(client, sandbox, auth, ok)
    registrant = sandbox.add_registrant(key, "del@example.com", "Del", "Me")
    url = f"{G2W}/organizers/{ok}/webinars/{key}/registrants/{registrant.registrant_key}"
    assert client.get(url, headers=auth).status_code == 200
    assert client.delete(url, headers=auth).status_code == 204
    missing = client.get(url, headers=auth)
    assert missing.status_code == 404
    _error_shape(missing.json())
    past = _past_webinar(sandbox, ok)
    rk = past.reg_order[0]
    answer = client.delete(f"{G2W}/organizers/{ok}/webinars/{past.webinar_key}/registrants/{rk}", headers=auth)
    assert answer.status_code == 400


# ---------------------------------------------------------------------------
# Sessions and attendees


def test_sessions_and_attendees_of_a_past_webinar(client, sandbox, auth, ok):
    w = _past_webinar(sandbox, ok)
    session = w.sessions[0]
    base = f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}"
    sessions = client.get(f"{base}/sessions", headers=auth).json()
    item = sessions["_embedded"]["sessionInfoResources"][0]
    assert item["sessionKey"] == str(session.session_key) and item["webinarKey"] == str(w.webinar_key)
    assert item["registrantsAttended"] == len(session.attendance)
    assert item["registrantCount"] == len(w.registrants)
    assert sessions["page"]["totalElements"] == 1

    attendees = client.get(f"{base}/sessions/{session.session_key}/attendees", headers=auth).json()
    assert len(attendees) == len(session.attendance)
    for a in attendees:
        intervals = session.attendance[a["registrantKey"]]
        assert a["sessionKey"] == session.session_key
        assert a["attendance"] == [{"joinTime": iso_z(j), "leaveTime": iso_z(lv)} for j, lv in intervals]
        assert a["attendanceTimeInSeconds"] == int(sum((lv - j).total_seconds() for j, lv in intervals))
        assert a["email"] == w.registrants[a["registrantKey"]].email
    no_shows = set(w.registrants) - set(session.attendance)
    assert no_shows and not no_shows & {a["registrantKey"] for a in attendees}
    same = client.get(f"{base}/sessions/{session.session_key}", headers=auth).json()
    assert same == attendees

    rk = attendees[0]["registrantKey"]
    one = client.get(f"{base}/sessions/{session.session_key}/attendees/{rk}", headers=auth).json()
    assert one["registrantKey"] == rk and one["email"] == attendees[0]["email"]
    no_show = next(iter(no_shows))
    assert client.get(f"{base}/sessions/{session.session_key}/attendees/{no_show}", headers=auth).status_code == 404


def test_polls_questions_surveys_and_performance(client, sandbox, auth, ok):
    now = sandbox.now()
    w = next(w for w in sandbox.state.webinars.values() if w.organizer_key == ok and any(
        s.end <= now and s.questions and any(not p.survey for p in s.polls) for s in w.sessions))
    s = next(s for s in w.sessions if s.end <= now and s.questions and any(not p.survey for p in s.polls))
    base = f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/sessions/{s.session_key}"
    polls = client.get(f"{base}/polls", headers=auth).json()
    assert polls and all({"question", "numberOfResponses", "responses"} <= set(p) for p in polls)
    assert abs(sum(r["percentage"] for r in polls[0]["responses"]) - 100) < 0.1
    surveys = client.get(f"{base}/surveys", headers=auth).json()
    assert len(surveys) == sum(1 for p in s.polls if p.survey)
    questions = client.get(f"{base}/questions", headers=auth).json()
    assert len(questions) == len(s.questions)
    asker = int(questions[0]["askerKey"])
    assert questions[0]["askedBy"] == w.registrants[asker].email
    mine = client.get(f"{base}/attendees/{asker}/questions", headers=auth).json()
    assert mine and all(q["askerKey"] == str(asker) for q in mine)
    answers = client.get(f"{base}/attendees/{asker}/polls", headers=auth).json()
    assert answers == client.get(f"{base}/attendees/{asker}/polls", headers=auth).json()  # deterministic
    assert all(a["answers"][0] in next(p.options for p in s.polls if p.question == a["question"]) for a in answers)
    assert isinstance(client.get(f"{base}/attendees/{asker}/surveys", headers=auth).json(), list)
    perf = client.get(f"{base}/performance", headers=auth).json()
    assert perf["sessionInfo"]["sessionKey"] == str(s.session_key)
    assert perf["attendance"]["registrantCount"] == len(w.registrants)
    assert perf["pollsAndSurveys"]["questionsAsked"] == len(s.questions)
    all_perf = client.get(f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/performance", headers=auth).json()
    assert str(s.session_key) in all_perf


def test_attendees_across_sessions_paged(client, sandbox, auth, ok):
    now = sandbox.now()
    w = max((w for w in sandbox.state.webinars.values() if w.organizer_key == ok),
            key=lambda w: len(w.visible_sessions(now)))
    total = sum(len(s.attendance) for s in w.visible_sessions(now))
    url = f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/attendees"
    seen = []
    page = 0
    while True:
        body = client.get(url, params={"page": page, "size": 7}, headers=auth).json()
        assert body["page"]["totalElements"] == total
        seen += [(a["sessionKey"], a["registrantKey"]) for a in body["_embedded"]["attendeeParticipationResponses"]]
        if body["page"]["number"] + 1 >= body["page"]["totalPages"]:
            break
        page += 1
    assert len(seen) == total == len(set(seen))


def test_organizer_sessions_only_ended_and_paged(client, sandbox, auth, ok, everything):
    now = sandbox.now()
    expected = sorted((s.start, s.session_key) for s in sandbox.state.sessions.values()
                      if sandbox.state.webinars[s.webinar_key].organizer_key == ok and s.end <= now)
    body = client.get(f"{G2W}/organizers/{ok}/sessions", params={**everything, "size": 200}, headers=auth).json()
    assert [int(x["sessionKey"]) for x in body["_embedded"]["sessionInfoResources"]] == [k for _, k in expected]
    paged = client.get(f"{G2W}/organizers/{ok}/sessions", params={**everything, "size": 2, "page": 1},
                       headers=auth).json()
    assert [int(x["sessionKey"]) for x in paged["_embedded"]["sessionInfoResources"]] == [
        k for _, k in expected[2:4]]


def test_planned_session_appears_once_the_clock_passes_its_end(client, sandbox, auth, everything):
    now = sandbox.now()
    live = next(w for w in sandbox.state.webinars.values() if w.in_session(now))
    ok = live.organizer_key
    h = {"Authorization": f"Bearer {sandbox.mint_token(ok)['access_token']}"}
    url = f"{G2W}/organizers/{ok}/webinars/{live.webinar_key}/sessions"
    assert client.get(url, headers=h).json()["page"]["totalElements"] == 0
    sandbox.advance(live.last_end - now)
    h = {"Authorization": f"Bearer {sandbox.mint_token(ok)['access_token']}"}
    body = client.get(url, headers=h).json()
    assert body["page"]["totalElements"] == 1
    assert body["_embedded"]["sessionInfoResources"][0]["registrantsAttended"] > 0


def test_simulate_session_helper(client, sandbox, auth, ok):
    [w] = sandbox.add_webinar("Simulated")
    r1 = sandbox.add_registrant(w.webinar_key, "one@example.com", "One", "Person")
    sandbox.add_registrant(w.webinar_key, "two@example.com", "Two", "Person")
    start, end = w.times[0]
    session = sandbox.simulate_session(w.webinar_key, {
        r1.registrant_key: [(start, start + timedelta(minutes=10)), (start + timedelta(minutes=20), end)],
        "TWO@example.com": None})
    url = f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/sessions/{session.session_key}/attendees"
    assert client.get(url, headers=auth).status_code == 404  # not ended yet
    sandbox.advance(end - sandbox.now() + timedelta(minutes=1))
    h = {"Authorization": f"Bearer {sandbox.mint_token()['access_token']}"}
    attendees = {a["email"]: a for a in client.get(url, headers=h).json()}
    assert attendees["one@example.com"]["attendanceTimeInSeconds"] == 10 * 60 + 40 * 60
    assert attendees["two@example.com"]["attendanceTimeInSeconds"] == 3600
    with pytest.raises(ValueError):
        sandbox.simulate_session(w.webinar_key, {"stranger@example.com": None})


def test_large_keys_survive_the_json_round_trip(client, sandbox, auth, ok):
    w = _past_webinar(sandbox, ok)
    raw = client.get(f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}/registrants", headers=auth).content
    for item, key in zip(json.loads(raw), w.reg_order, strict=True):
        assert item["registrantKey"] == key and key > 2**53
        assert str(key).encode() in raw  # written as an exact JSON number, not a float
    assert b"e+" not in raw and b".0," not in raw
    detail = client.get(f"{G2W}/organizers/{ok}/webinars/{w.webinar_key}", headers=auth).json()
    assert detail["webinarKey"] == w.webinar_key and detail["organizerKey"] == ok
    # A float parser (like JavaScript's) would corrupt the key:
    assert int(float(w.webinar_key)) != w.webinar_key or w.webinar_key < 2**53


def test_unknown_route_and_method(client, auth):
    unknown = client.get(f"{G2W}/nothing", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["errorCode"] == "NOT_FOUND"
    wrong = client.patch(f"{G2W}/webhooks", headers=auth)
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
