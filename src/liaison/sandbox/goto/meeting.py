"""GoToMeeting REST (``/G2M/rest``), following ballerina-gotomeeting-openapi.yml.

Times are written in G2M's own format ``2012-12-01T09:00:00.+0000`` (dot, no fraction,
``+0000``); durations are minutes. Key types follow each schema (``MeetingById`` carries
``meetingId`` as an int64, ``HistoricalMeeting`` as a string, ...). Historical lists need
``startDate``/``endDate`` and leave out meetings still in progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..common import Request, Response, Router, json_response, no_content
from .base import bad_request, g2m_time, json_body, minutes_between, not_found, parse_time, required_time_arg
from .state import Meeting, MeetingAttendee, MeetingSession, Organizer

if TYPE_CHECKING:
    from .app import GoToSandbox

G2M = "/G2M/rest"
MEETING_TYPES = ("immediate", "scheduled", "recurring")
REQUIRED = ("subject", "starttime", "endtime", "passwordrequired", "conferencecallinfo", "timezonekey", "meetingtype")


def _status(m: Meeting, now: datetime) -> str:
    return "ACTIVE" if m.start <= now < m.end else "INACTIVE"


def join_url(sb: GoToSandbox, m: Meeting) -> str:
    return sb.url(f"/gotomeeting/join/{m.meeting_id}")


def meeting_by_id(sb: GoToSandbox, m: Meeting) -> dict[str, Any]:
    return {
        "createTime": "",
        "passwordRequired": m.password_required,
        "status": _status(m, sb.now()),
        "subject": m.subject,
        "endTime": g2m_time(m.end),
        "conferenceCallInfo": m.conference_call_info,
        "startTime": g2m_time(m.start),
        "duration": minutes_between(m.start, m.end),
        "maxParticipants": m.max_participants,
        "meetingId": m.meeting_id,
        "meetingKey": m.meeting_id,
        "meetingType": m.meeting_type,
        "uniqueMeetingId": m.meeting_id,
        "coorganizerKeys": list(m.coorganizer_keys),
    }


def upcoming_json(sb: GoToSandbox, m: Meeting) -> dict[str, Any]:
    o = sb.state.organizers[m.organizer_key]
    return {
        "startTime": g2m_time(m.start),
        "lastName": o.last_name,
        "accountKey": str(m.account_key),
        "passwordRequired": m.password_required,
        "email": o.email,
        "status": _status(m, sb.now()),
        "subject": m.subject,
        "locale": o.locale,
        "organizerKey": str(o.organizer_key),
        "meetingId": str(m.meeting_id),
        "meetingType": m.meeting_type,
        "firstName": o.first_name,
        "endTime": g2m_time(m.end),
        "conferenceCallInfo": m.conference_call_info,
    }


def historical_json(sb: GoToSandbox, m: Meeting, s: MeetingSession) -> dict[str, Any]:
    o = sb.state.organizers[m.organizer_key]
    data: dict[str, Any] = {
        "startTime": g2m_time(s.start),
        "lastName": o.last_name,
        "duration": str(minutes_between(s.start, s.end)),
        "numAttendees": str(len({a.email.lower() for a in s.attendees})),
        "accountKey": str(m.account_key),
        "email": o.email,
        "sessionId": str(s.session_id),
        "subject": m.subject,
        "locale": o.locale,
        "organizerKey": str(o.organizer_key),
        "meetingId": str(m.meeting_id),
        "meetingType": m.meeting_type,
        "firstName": o.first_name,
        "endTime": g2m_time(s.end),
        "conferenceCallInfo": m.conference_call_info,
    }
    if s.recording:
        rid = s.recording["recordingId"]
        data["recording"] = {
            "recordingName": s.recording["recordingName"],
            "recordingId": rid,
            "downloadUrl": sb.url(f"/gotomeeting/recordings/{rid}/download"),
            "fileSize": s.recording["fileSize"],
            "shareUrl": sb.url(f"/gotomeeting/recordings/{rid}"),
        }
    return data


def attendee_rows(sb: GoToSandbox, m: Meeting, s: MeetingSession, *, by_organizer: bool) -> list[dict[str, Any]]:
    o = sb.state.organizers[m.organizer_key]
    count = len({a.email.lower() for a in s.attendees})
    rows = []
    for a in s.attendees:
        row: dict[str, Any] = {
            "lastName": o.last_name,
            "groupName": "NA",
            "numAttendees": count,
            "attendeeName": a.name,
            "subject": m.subject,
            "endTime": g2m_time(s.end),
            "conferenceCallInfo": m.conference_call_info,
            "organizerkey": o.organizer_key,
            "startTime": g2m_time(s.start),
            "meetingInstanceKey": s.session_id,
            "duration": minutes_between(a.join, a.leave),
            "email": o.email,
            "joinTime": g2m_time(a.join),
            "name": o.name if by_organizer else a.name,
            "leaveTime": g2m_time(a.leave),
            "attendeeEmail": a.email,
            "meetingId": m.meeting_id,
            "meetingType": m.meeting_type,
            "firstName": o.first_name,
        }
        if by_organizer:
            row["newMeetingId"] = _formatted_id(m.meeting_id)
        rows.append(row)
    return rows


def _formatted_id(meeting_id: int) -> str:
    digits = str(meeting_id)
    return "-".join(digits[i: i + 3] for i in range(0, len(digits), 3))


# ---------------------------------------------------------------------------
# Core operations


def _meeting_fields(data: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise bad_request(f"Missing required field(s): {', '.join(missing)}.")
    subject = data["subject"]
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 100:
        raise bad_request("subject must be a non-empty string of at most 100 characters.")
    if "<" in subject or ">" in subject:
        raise bad_request("subject must not contain '<' or '>'; use &lt; and &gt;.")
    try:
        start, end = parse_time(data["starttime"]), parse_time(data["endtime"])
    except ValueError:
        raise bad_request(
            "starttime and endtime must be ISO-8601 UTC date-times such as 2015-07-01T22:00:00Z."
        ) from None
    if end <= start:
        raise bad_request("endtime must be after starttime.")
    if not isinstance(data["passwordrequired"], bool):
        raise bad_request("passwordrequired must be true or false.")
    info = data["conferencecallinfo"]
    if not isinstance(info, str) or not info or len(info) > 255:
        raise bad_request("conferencecallinfo must be PSTN, Free, Hybrid, Private, VoIP or up to 255 characters.")
    if data["meetingtype"] not in MEETING_TYPES:
        raise bad_request(f"meetingtype must be one of {', '.join(MEETING_TYPES)}.")
    coorganizers = data.get("coorganizerKeys") or []
    if not isinstance(coorganizers, list):
        raise bad_request("coorganizerKeys must be an array.")
    return {
        "subject": subject.strip(),
        "start": start.replace(microsecond=0),
        "end": end.replace(microsecond=0),
        "password_required": data["passwordrequired"],
        "conference_call_info": info,
        "meeting_type": data["meetingtype"],
        "coorganizer_keys": [str(k) for k in coorganizers],
    }


def create_meeting(sb: GoToSandbox, organizer: Organizer, data: dict[str, Any]) -> Meeting:
    fields = _meeting_fields(data)
    meeting_id = int(sb.state.keys.digits(9))
    while meeting_id in sb.state.meetings:
        meeting_id = int(sb.state.keys.digits(9))
    meeting = Meeting(meeting_id=meeting_id, organizer_key=organizer.organizer_key,
                      account_key=organizer.account_key, created_at=sb.now(), **fields)
    return sb.state.add_meeting(meeting)


# ---------------------------------------------------------------------------
# Python helpers


def add_meeting(
    sb: GoToSandbox,
    subject: str = "Sandbox meeting",
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    organizer: Organizer | int | str | None = None,
    meeting_type: str = "scheduled",
) -> Meeting:
    """Schedule a meeting (defaults: tomorrow, one hour)."""

    def do() -> Meeting:
        s = start or (sb.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        e = end or s + timedelta(hours=1)
        body = {"subject": subject, "starttime": s.isoformat(), "endtime": e.isoformat(), "passwordrequired": False,
                "conferencecallinfo": "Hybrid", "timezonekey": "", "meetingtype": meeting_type}
        return create_meeting(sb, sb.organizer(organizer), body)

    return sb.run(do)


def simulate_meeting_session(
    sb: GoToSandbox,
    meeting_id: int,
    attendees: list[tuple[str, str, datetime, datetime]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> MeetingSession:
    """Record that the meeting was held; ``attendees`` are ``(name, email, join, leave)``
    rows (one per join interval)."""

    def do() -> MeetingSession:
        m = sb.state.meetings.get(meeting_id)
        if m is None:
            raise ValueError(f"no meeting {meeting_id}")
        session = MeetingSession(int(sb.state.keys.digits(10)), m.meeting_id, start or m.start, end or m.end)
        session.attendees = [MeetingAttendee(name, email, join.replace(microsecond=0), leave.replace(microsecond=0))
                             for name, email, join, leave in attendees]
        return sb.state.add_meeting_session(m, session)

    return sb.run(do)


# ---------------------------------------------------------------------------
# HTTP API


def register(sb: GoToSandbox, router: Router) -> None:
    def meeting_of(req: Request, meetingId: int) -> Meeting:
        m = sb.state.meetings.get(meetingId)
        user = req.context["user"]
        if m is None or m.deleted_at is not None or m.account_key != user.account_key:
            raise not_found(f"Meeting {meetingId} was not found.")
        if m.organizer_key != user.organizer_key and not user.is_admin \
                and str(user.organizer_key) not in m.coorganizer_keys:
            raise not_found(f"Meeting {meetingId} was not found.")
        return m

    def upcoming_for(organizer_key: int) -> list[dict[str, Any]]:
        now = sb.now()
        index = sb.state.meetings_by_organizer.get(organizer_key)
        if index is None:
            return []
        # Meetings that have not ended yet; a meeting lasts at most a day here.
        lo, _ = index.bounds(now - timedelta(days=1), None)
        return [upcoming_json(sb, sb.state.meetings[key]) for _, key in index.items[lo:]
                if sb.state.meetings[key].end > now]

    def historical_for(req: Request, organizer_key: int) -> list[tuple[Meeting, MeetingSession]]:
        start = required_time_arg(req, "startDate")
        end = required_time_arg(req, "endDate")
        now = sb.now()
        index = sb.state.meeting_sessions_by_organizer.get(organizer_key)
        if index is None or end < start:
            return []
        lo, hi = index.bounds(start, min(end, now))
        out = []
        for _, key in index.items[lo:hi]:
            s = sb.state.meeting_sessions[key]
            if s.end <= now:
                out.append((sb.state.meetings[s.meeting_id], s))
        return out

    def create(req: Request) -> Response:
        m = create_meeting(sb, req.context["user"], json_body(req, dict))
        return json_response([{"joinURL": join_url(sb, m), "meetingid": m.meeting_id,
                               "maxParticipants": m.max_participants, "uniqueMeetingId": m.meeting_id,
                               "conferenceCallInfo": m.conference_call_info}], 201)

    def get(req: Request, meetingId: int) -> Response:
        return json_response([meeting_by_id(sb, meeting_of(req, meetingId))])

    def update(req: Request, meetingId: int) -> Response:
        m = meeting_of(req, meetingId)
        fields = _meeting_fields(json_body(req, dict))
        sb.state.reschedule_meeting(m, fields.pop("start"), fields.pop("end"))
        for key, value in fields.items():
            setattr(m, key, value)
        return no_content(204)

    def delete(req: Request, meetingId: int) -> Response:
        m = meeting_of(req, meetingId)
        sb.state.delete_meeting(m, sb.now())
        return no_content(204)

    def start(req: Request, meetingId: int) -> Response:
        m = meeting_of(req, meetingId)
        return json_response({"hostURL": sb.url(f"/gotomeeting/start/{m.meeting_id}")})

    def attendees(req: Request, meetingId: int) -> Response:
        m = meeting_of(req, meetingId)
        now = sb.now()
        rows = []
        for s in m.sessions:
            if s.end <= now:
                rows.extend(attendee_rows(sb, m, s, by_organizer=False))
        return json_response(rows)

    def upcoming(req: Request) -> Response:
        return json_response(upcoming_for(req.context["user"].organizer_key))

    def historical(req: Request) -> Response:
        pairs = historical_for(req, req.context["user"].organizer_key)
        return json_response([historical_json(sb, m, s) for m, s in pairs])

    def org_upcoming(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        return json_response(upcoming_for(organizerKey))

    def org_historical(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        return json_response([historical_json(sb, m, s) for m, s in historical_for(req, organizerKey)])

    def org_attendees(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        rows = []
        for m, s in historical_for(req, organizerKey):
            rows.extend(attendee_rows(sb, m, s, by_organizer=True))
        return json_response(rows)

    def session_of(req: Request, organizerKey: int, sessionId: int) -> MeetingSession:
        sb.path_organizer(req, organizerKey)
        s = sb.state.meeting_sessions.get(sessionId)
        if s is None or sb.state.meetings[s.meeting_id].organizer_key != organizerKey:
            raise not_found(f"Session {sessionId} was not found.")
        return s

    def delete_session(req: Request, organizerKey: int, sessionId: int) -> Response:
        s = session_of(req, organizerKey, sessionId)
        sb.state.remove_meeting_session(sb.state.meetings[s.meeting_id], s)
        return no_content(204)

    def delete_session_attendees(req: Request, organizerKey: int, sessionId: int) -> Response:
        session_of(req, organizerKey, sessionId).attendees = []
        return no_content(204)

    def delete_session_recordings(req: Request, organizerKey: int, sessionId: int) -> Response:
        session_of(req, organizerKey, sessionId).recording = None
        return no_content(204)

    mk = f"{G2M}/meetings/{{meetingId:int}}"
    ok = f"{G2M}/organizers/{{organizerKey:int}}"
    routes = [
        ("POST", f"{G2M}/meetings", create),
        ("GET", mk, get),
        ("PUT", mk, update),
        ("DELETE", mk, delete),
        ("GET", f"{mk}/start", start),
        ("GET", f"{mk}/attendees", attendees),
        ("GET", f"{G2M}/upcomingMeetings", upcoming),
        ("GET", f"{G2M}/historicalMeetings", historical),
        ("GET", f"{ok}/upcomingMeetings", org_upcoming),
        ("GET", f"{ok}/historicalMeetings", org_historical),
        ("GET", f"{ok}/attendees", org_attendees),
        ("DELETE", f"{ok}/sessions/{{sessionId:int}}", delete_session),
        ("DELETE", f"{ok}/sessions/{{sessionId:int}}/attendees", delete_session_attendees),
        ("DELETE", f"{ok}/sessions/{{sessionId:int}}/recordings", delete_session_recordings),
    ]
    for method, template, handler in routes:
        router.add(method, template, handler)
