"""GoToMeeting: meetings, upcoming / historical lists, attendees, G2M date format."""

from __future__ import annotations

import re
from datetime import timedelta

from liaison.sandbox.goto.base import iso_z, parse_time

G2M = "/G2M/rest"
G2M_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\+0000$")


def _body(sandbox, days=1, **extra):
    start = (sandbox.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return {"subject": "Weekly sync", "starttime": iso_z(start), "endtime": iso_z(start + timedelta(hours=1)),
            "passwordrequired": False, "conferencecallinfo": "Hybrid", "timezonekey": "",
            "meetingtype": "scheduled", **extra}


def test_create_get_update_delete_and_date_format(client, sandbox, auth):
    body = _body(sandbox)
    created = client.post(f"{G2M}/meetings", headers=auth, json=body)
    assert created.status_code == 201
    [item] = created.json()
    assert set(item) == {"joinURL", "meetingid", "maxParticipants", "uniqueMeetingId", "conferenceCallInfo"}
    meeting_id = item["meetingid"]
    assert isinstance(meeting_id, int) and item["joinURL"] == f"http://sandbox/gotomeeting/join/{meeting_id}"
    [meeting] = client.get(f"{G2M}/meetings/{meeting_id}", headers=auth).json()
    assert meeting["meetingId"] == meeting_id and meeting["duration"] == 60
    assert G2M_TIME.match(meeting["startTime"]) and G2M_TIME.match(meeting["endTime"])
    assert parse_time(meeting["startTime"]) == parse_time(body["starttime"])
    assert meeting["status"] == "INACTIVE" and meeting["createTime"] == ""
    changed = client.put(f"{G2M}/meetings/{meeting_id}", headers=auth, json=_body(sandbox, days=2, subject="Moved"))
    assert changed.status_code == 204
    [meeting] = client.get(f"{G2M}/meetings/{meeting_id}", headers=auth).json()
    assert meeting["subject"] == "Moved"
    host = client.get(f"{G2M}/meetings/{meeting_id}/start", headers=auth).json()
    assert host == {"hostURL": f"http://sandbox/gotomeeting/start/{meeting_id}"}
    assert client.delete(f"{G2M}/meetings/{meeting_id}", headers=auth).status_code == 204
    assert client.get(f"{G2M}/meetings/{meeting_id}", headers=auth).status_code == 404


def test_create_validation(client, sandbox, auth):
    for change in ({"meetingtype": "sometimes"}, {"subject": "a<b"}, {"subject": "x" * 101},
                   {"passwordrequired": "no"}):
        assert client.post(f"{G2M}/meetings", headers=auth, json=_body(sandbox, **change)).status_code == 400
    incomplete = _body(sandbox)
    del incomplete["timezonekey"]
    answer = client.post(f"{G2M}/meetings", headers=auth, json=incomplete)
    assert answer.status_code == 400 and "timezonekey" in answer.json()["description"]


def test_upcoming_and_historical(client, sandbox, auth, ok):
    now = sandbox.now()
    upcoming = client.get(f"{G2M}/upcomingMeetings", headers=auth).json()
    expected = {m.meeting_id for m in sandbox.state.meetings.values() if m.organizer_key == ok and m.end > now}
    assert {int(m["meetingId"]) for m in upcoming} == expected
    assert all(isinstance(m["meetingId"], str) and G2M_TIME.match(m["startTime"]) for m in upcoming)
    assert client.get(f"{G2M}/organizers/{ok}/upcomingMeetings", headers=auth).json() == upcoming

    assert client.get(f"{G2M}/historicalMeetings", headers=auth).status_code == 400
    window = {"startDate": "2000-01-01T00:00:00Z", "endDate": "2100-01-01T00:00:00Z"}
    history = client.get(f"{G2M}/historicalMeetings", headers=auth, params=window).json()
    sessions = [s for m in sandbox.state.meetings.values() if m.organizer_key == ok for s in m.sessions
                if s.end <= now]
    assert {h["sessionId"] for h in history} == {str(s.session_id) for s in sessions}
    for h in history:
        assert isinstance(h["duration"], str) and isinstance(h["numAttendees"], str)
        assert G2M_TIME.match(h["startTime"]) and G2M_TIME.match(h["endTime"])
    assert client.get(f"{G2M}/organizers/{ok}/historicalMeetings", headers=auth, params=window).json() == history


def test_attendees_of_a_held_meeting(client, sandbox, auth, ok):
    meeting = sandbox.add_meeting("Held", sandbox.now() - timedelta(hours=3), sandbox.now() - timedelta(hours=2))
    start = meeting.start
    sandbox.simulate_meeting_session(meeting.meeting_id, [
        ("Ada Lovelace", "ada@example.com", start, start + timedelta(minutes=20)),
        ("Ada Lovelace", "ada@example.com", start + timedelta(minutes=30), meeting.end),
        ("Alan Turing", "alan@example.com", start + timedelta(minutes=5), meeting.end)])
    rows = client.get(f"{G2M}/meetings/{meeting.meeting_id}/attendees", headers=auth).json()
    assert [(r["attendeeEmail"], r["duration"]) for r in rows] == [
        ("ada@example.com", 20), ("ada@example.com", 30), ("alan@example.com", 55)]
    row = rows[0]
    assert row["attendeeName"] == row["name"] == "Ada Lovelace" and row["numAttendees"] == 2
    assert row["meetingId"] == meeting.meeting_id and isinstance(row["meetingInstanceKey"], int)
    assert G2M_TIME.match(row["joinTime"]) and G2M_TIME.match(row["leaveTime"])
    window = {"startDate": iso_z(start - timedelta(minutes=1)), "endDate": iso_z(start + timedelta(minutes=1))}
    by_organizer = client.get(f"{G2M}/organizers/{ok}/attendees", headers=auth, params=window).json()
    assert len(by_organizer) == 3 and by_organizer[0]["newMeetingId"].count("-") == 2
    assert by_organizer[0]["name"] == sandbox.default_organizer().name
    upcoming = sandbox.add_meeting("Later")
    assert client.get(f"{G2M}/meetings/{upcoming.meeting_id}/attendees", headers=auth).json() == []


def test_meetings_of_another_account_are_not_found(client, sandbox, auth):
    assert client.get(f"{G2M}/meetings/123456789", headers=auth).status_code == 404


def test_data_clean_up_calls(client, sandbox, auth, ok):
    meeting = sandbox.add_meeting("Clean", sandbox.now() - timedelta(hours=3), sandbox.now() - timedelta(hours=2))
    session = sandbox.simulate_meeting_session(meeting.meeting_id, [
        ("Ada Lovelace", "ada@example.com", meeting.start, meeting.end)])
    session.recording = {"recordingId": "1", "recordingName": "r", "fileSize": 1}
    base = f"{G2M}/organizers/{ok}/sessions/{session.session_id}"
    assert client.delete(f"{base}/recordings", headers=auth).status_code == 204
    assert session.recording is None
    assert client.delete(f"{base}/attendees", headers=auth).status_code == 204
    assert client.get(f"{G2M}/meetings/{meeting.meeting_id}/attendees", headers=auth).json() == []
    assert client.delete(base, headers=auth).status_code == 204
    window = {"startDate": iso_z(meeting.start - timedelta(days=1)), "endDate": iso_z(sandbox.now())}
    history = client.get(f"{G2M}/historicalMeetings", headers=auth, params=window).json()
    assert str(session.session_id) not in [h["sessionId"] for h in history]
    assert client.delete(base, headers=auth).status_code == 404
