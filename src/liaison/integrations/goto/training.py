"""GoToTraining REST v1 client (``/G2T/rest``, with the reports API), typed.

Differences from GoToWebinar handled here: times are ``startDate``/``endDate``; lists are
bare arrays without paging; the training list holds scheduled trainings only (completed
ones drop out, so a known training missing from it is either over or deleted: a
deleted one answers 404 ``NoSuchTraining``); durations are minutes; report attendees
include non-attendees (``timeInSession`` 0) last; a duplicate registration answers 409
``DuplicateRegistrant`` with the existing ``registrantKey``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from liaison.integrations.goto.client import (
    AlreadyRegistered,
    AttendeeRecord,
    EventRecord,
    GoToApi,
    Reader,
    RegistrantRecord,
    SessionRecord,
    iso_z,
    status_of,
)


def read_training(read: Reader, data: Any) -> EventRecord:
    data = read.obj(data)
    times = read.times(data, start="startDate", end="endDate")
    if not times:
        raise read.fail("a training without times", data)
    # Every organizer as GoTo describes them (the connector's Training answers with them).
    organizers = [{"organizerKey": read.key(o, "organizerKey"), "givenName": read.text(o, "givenName"),
                   "surname": read.text(o, "surname"), "email": read.text(o, "email")}
                  for o in map(read.obj, read.items(data, "organizers"))]
    settings = data.get("registrationSettings") if isinstance(data.get("registrationSettings"), Mapping) else {}
    return EventRecord(
        key=read.key(data, "trainingKey"),
        title=read.text(data, "name", required=True),
        description=read.text(data, "description"),
        times=times,
        provider_id=read.text(data, "trainingId"),
        organizer_key=organizers[0]["organizerKey"] if organizers else "",
        time_zone=read.text(data, "timeZone"),
        recurrence="multi_session" if len(times) > 1 else "single_session",
        extra={"organizers": organizers, **{k: v for k, v in settings.items() if isinstance(v, bool)}},
    )


def read_registrant(read: Reader, data: Any) -> RegistrantRecord:
    data = read.obj(data)
    return RegistrantRecord(
        email=read.email(data),
        first_name=read.text(data, "givenName"),
        last_name=read.text(data, "surname"),
        key=read.key(data, "registrantKey"),
        status=status_of(read.text(data, "status")),
        registered_at=read.instant(data, "registrationDate", required=False),
        join_url=read.text(data, "joinUrl"),
        confirmation_url=read.text(data, "confirmationUrl"),
    )


def read_session(read: Reader, data: Any, training_key: str = "") -> SessionRecord:
    data = read.obj(data)
    return SessionRecord(
        key=read.key(data, "sessionKey"),
        event_key=training_key,
        starts_at=read.instant(data, "sessionStartTime"),
        ends_at=read.instant(data, "sessionEndTime"),
        attendee_count=read.integer(data, "attendanceCount"),
    )


def read_attendee(read: Reader, data: Any) -> AttendeeRecord:
    """A report row: an attendee, or a registrant who did not attend (no times, ``timeInSession`` 0)."""
    data = read.obj(data)
    intervals = []
    for item in read.items(data, "inSessionTimes"):
        item = read.obj(item)
        intervals.append((read.instant(item, "joinTime"), read.instant(item, "leaveTime", required=False)))
    intervals.sort(key=lambda pair: pair[0])
    return AttendeeRecord(email=read.email(data), first_name=read.text(data, "givenName"),
                          last_name=read.text(data, "surname"), intervals=intervals,
                          duration_seconds=read.seconds(data, "timeInSession", "min") or 0)


def attended(record: AttendeeRecord) -> bool:
    return bool(record.intervals) or record.duration_seconds > 0


def read_report_session(read: Reader, data: Any) -> tuple[SessionRecord, str]:
    """A session of the organizer's date-range report, with its training's name (GoTo gives no key)."""
    data = read.obj(data)
    return read_session(read, data), read.text(data, "trainingName")


class TrainingApi(GoToApi):
    api = "g2t"
    prefix = "/G2T/rest"
    label = "GoToTraining"

    def _org(self, organizer_key: str | None = None) -> str:
        return organizer_key or self.require_organizer()

    def trainings(self, organizer_key: str | None = None) -> list[EventRecord]:
        """Scheduled trainings (ongoing ones included, completed ones not)."""
        data = self.http.get("/organizers/{organizerKey}/trainings",
                             path_params={"organizerKey": self._org(organizer_key)}).data
        read = self.reader("a training list")
        return [read_training(read, item) for item in read.items(data)]

    def training(self, training_key: str, organizer_key: str | None = None) -> EventRecord:
        data = self.http.get("/organizers/{organizerKey}/trainings/{trainingKey}",
                             path_params={"organizerKey": self._org(organizer_key), "trainingKey": training_key}).data
        return read_training(self.reader("a training"), data)

    def registrants(self, training_key: str, organizer_key: str | None = None) -> list[RegistrantRecord]:
        """Every registrant, in one answer (GoTo's cache may lag up to two hours)."""
        data = self.http.get("/organizers/{organizerKey}/trainings/{trainingKey}/registrants",
                             path_params={"organizerKey": self._org(organizer_key), "trainingKey": training_key}).data
        read = self.reader("a registrant list")
        return [read_registrant(read, item) for item in read.items(data)]

    def registrant(self, training_key: str, registrant_key: str, organizer_key: str | None = None
                   ) -> RegistrantRecord:
        data = self.http.get("/organizers/{organizerKey}/trainings/{trainingKey}/registrants/{registrantKey}",
                             path_params={"organizerKey": self._org(organizer_key), "trainingKey": training_key,
                                          "registrantKey": registrant_key}).data
        return read_registrant(self.reader("a registrant"), data)

    def create_registrant(self, training_key: str, *, email: str, first_name: str, last_name: str,
                          organizer_key: str | None = None) -> RegistrantRecord:
        """Register someone; raises ``AlreadyRegistered`` (with the existing key) on 409."""
        response = self.http.post(
            "/organizers/{organizerKey}/trainings/{trainingKey}/registrants",
            path_params={"organizerKey": self._org(organizer_key), "trainingKey": training_key},
            json={"email": email, "givenName": first_name, "surname": last_name}, allow=(409,))
        read = self.reader("a registration answer")
        data = read.obj(response.data)
        if response.status == 409:
            raise AlreadyRegistered(self.label, registrant_key=read.key(data, "registrantKey", required=False),
                                    detail=read.text(data, "description"))
        return RegistrantRecord(email=email, first_name=first_name, last_name=last_name,
                                key=read.key(data, "registrantKey"), join_url=read.text(data, "joinUrl"),
                                confirmation_url=read.text(data, "confirmationUrl"))

    def delete_registrant(self, training_key: str, registrant_key: str, organizer_key: str | None = None) -> None:
        self.http.delete("/organizers/{organizerKey}/trainings/{trainingKey}/registrants/{registrantKey}",
                         path_params={"organizerKey": self._org(organizer_key), "trainingKey": training_key,
                                      "registrantKey": registrant_key})

    def start_url(self, training_key: str) -> str:
        """The host link that starts the training without the organizer signing in."""
        data = self.http.get("/trainings/{trainingKey}/start", path_params={"trainingKey": training_key}).data
        read = self.reader("a start link")
        return read.text(read.obj(data), "hostURL", required=True)

    # -- reports ------------------------------------------------------------------------------
    def training_sessions(self, training_key: str, organizer_key: str | None = None) -> list[SessionRecord]:
        """Completed sessions of one training."""
        data = self.http.get("/reports/organizers/{organizerKey}/trainings/{trainingKey}",
                             path_params={"organizerKey": self._org(organizer_key), "trainingKey": training_key}).data
        read = self.reader("a session report")
        return [read_session(read, item, training_key) for item in read.items(data)]

    def sessions_report(self, start: datetime, end: datetime, organizer_key: str | None = None
                        ) -> list[tuple[SessionRecord, str]]:
        """Every completed session started in ``[start, end]``, with its training's name, in one answer."""
        data = self.http.post("/reports/organizers/{organizerKey}/sessions",
                              path_params={"organizerKey": self._org(organizer_key)},
                              json={"startDate": iso_z(start), "endDate": iso_z(end)}, idempotent=True).data
        read = self.reader("a session report")
        return [read_report_session(read, item) for item in read.items(data)]

    def session_attendees(self, session_key: str, organizer_key: str | None = None) -> list[AttendeeRecord]:
        """Everyone registered for one completed session: attendees with their times, then the others."""
        data = self.http.get("/reports/organizers/{organizerKey}/sessions/{sessionKey}/attendees",
                             path_params={"organizerKey": self._org(organizer_key), "sessionKey": session_key}).data
        read = self.reader("an attendee report")
        return [read_attendee(read, item) for item in read.items(data)]
