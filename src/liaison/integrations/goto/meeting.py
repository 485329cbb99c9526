"""GoToMeeting REST client (``/G2M/rest``), typed.

GoToMeeting has no registrants: the sync reads upcoming meetings, held sessions
(``historicalMeetings``, one entry per session; a restarted meeting has several) and
attendees (one row per join interval, ``duration`` in minutes), each in one answer per
time window. Times arrive as ``2012-12-01T09:00:00.+0000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liaison.integrations.goto.client import EventRecord, GoToApi, Reader, SessionRecord, iso_z


@dataclass(slots=True)
class AttendanceRow:
    """One join interval of one attendee in one meeting session."""

    meeting_id: str
    session_key: str
    email: str
    name: str
    joined_at: datetime
    left_at: datetime | None
    duration_seconds: int
    subject: str = ""
    session_start: datetime | None = None
    session_end: datetime | None = None


def read_meeting(read: Reader, data: Any) -> EventRecord:
    data = read.obj(data)
    start, end = read.instant(data, "startTime"), read.instant(data, "endTime")
    return EventRecord(
        key=read.key(data, "meetingId"),
        title=read.text(data, "subject") or "(no subject)",
        times=[(start, end)],
        provider_id=read.key(data, "meetingId"),
        organizer_key=read.key(data, "organizerKey", required=False),
        recurrence=read.text(data, "meetingType"),
        extra={k: data[k] for k in ("conferenceCallInfo", "passwordRequired") if data.get(k) is not None},
    )


class MeetingApi(GoToApi):
    api = "g2m"
    prefix = "/G2M/rest"
    label = "GoToMeeting"

    def _org(self, organizer_key: str | None = None) -> str:
        return organizer_key or self.require_organizer()

    def upcoming(self, organizer_key: str | None = None) -> list[EventRecord]:
        data = self.http.get("/organizers/{organizerKey}/upcomingMeetings",
                             path_params={"organizerKey": self._org(organizer_key)}).data
        read = self.reader("a meeting list")
        return [read_meeting(read, item) for item in read.items(data)]

    def historical(self, start: datetime, end: datetime, organizer_key: str | None = None
                   ) -> list[tuple[EventRecord, SessionRecord]]:
        """Held sessions that started in ``[start, end]`` (meetings in progress are left out)."""
        data = self.http.get("/organizers/{organizerKey}/historicalMeetings",
                             path_params={"organizerKey": self._org(organizer_key)},
                             params={"startDate": iso_z(start), "endDate": iso_z(end)}).data
        read = self.reader("a meeting history")
        out = []
        for item in read.items(data):
            meeting = read_meeting(read, item)
            session = SessionRecord(key=read.key(item, "sessionId"), event_key=meeting.key,
                                    starts_at=meeting.times[0][0], ends_at=meeting.times[0][1],
                                    attendee_count=read.integer(item, "numAttendees"))
            out.append((meeting, session))
        return out

    def attendees(self, start: datetime, end: datetime, organizer_key: str | None = None) -> list[AttendanceRow]:
        """Every join interval of every session started in ``[start, end]``, in one answer."""
        data = self.http.get("/organizers/{organizerKey}/attendees",
                             path_params={"organizerKey": self._org(organizer_key)},
                             params={"startDate": iso_z(start), "endDate": iso_z(end)}).data
        read = self.reader("an attendee list")
        rows = []
        for item in read.items(data):
            item = read.obj(item)
            rows.append(AttendanceRow(
                meeting_id=read.key(item, "meetingId"),
                session_key=read.key(item, "meetingInstanceKey"),
                email=read.email(item, "attendeeEmail", required=False),
                name=read.text(item, "attendeeName") or read.text(item, "name"),
                joined_at=read.instant(item, "joinTime"),
                left_at=read.instant(item, "leaveTime", required=False),
                duration_seconds=read.seconds(item, "duration", "min") or 0,
                subject=read.text(item, "subject"),
                session_start=read.instant(item, "startTime", required=False),
                session_end=read.instant(item, "endTime", required=False),
            ))
        return rows

    def meeting(self, meeting_id: str) -> EventRecord:
        """One meeting (GoTo answers an array with one element); 404 once deleted."""
        data = self.http.get("/meetings/{meetingId}", path_params={"meetingId": meeting_id}).data
        read = self.reader("a meeting")
        items = read.items(data) if isinstance(data, list) else [data]
        if not items:
            raise read.fail("an empty meeting answer", data)
        return read_meeting(read, items[0])

    def start_url(self, meeting_id: str) -> str:
        """The host link that starts the meeting (no organizer sign-in needed)."""
        data = self.http.get("/meetings/{meetingId}/start", path_params={"meetingId": meeting_id}).data
        read = self.reader("a start link")
        return read.text(read.obj(data), "hostURL", required=True)

