"""GoToWebinar REST v2 client (``/G2W/rest/v2``), typed.

Calls used by the sync: organizer webinars in a window (``page``/``size`` ≤ 200), one
webinar by key, registrants (paged with ``page``/``limit`` ≤ 200), organizer sessions in a
window (completed sessions of every webinar, paged), one session's attendees (one
answer per session), and a webinar's sessions (for ``--id``). Calls used by services:
create / delete a registrant, the start URL, and the webhook set-up calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from liaison.core.http import ProviderError
from liaison.integrations.goto.client import (
    MAX_PAGE_SIZE,
    AlreadyRegistered,
    AttendeeRecord,
    EventRecord,
    GoToApi,
    Page,
    Reader,
    RegistrantRecord,
    SessionRecord,
    iso_z,
    status_of,
)

WEBHOOK_EVENTS = ("registrant.added", "registrant.joined", "webinar.created", "webinar.changed")
EVENT_VERSION = "1.0.0"
BASIC_ACCEPT = "application/vnd.citrix.g2wapi-v1.1+json"  # first/last name and e-mail only


def read_webinar(read: Reader, data: Any) -> EventRecord:
    """A ``Webinar`` list item or a ``WebinarByKey`` (keys as strings or numbers)."""
    data = read.obj(data)
    times = read.times(data)
    if not times:
        raise read.fail("a webinar without times", data)
    extra = {name: data[name] for name in ("locale", "approvalType", "experienceType", "isPasswordProtected",
                                            "impromptu", "numberOfRegistrants", "registrationLimit", "inSession")
             if data.get(name) is not None}
    return EventRecord(
        key=read.key(data, "webinarKey"),
        title=read.text(data, "subject", required=True),
        description=read.text(data, "description"),
        times=times,
        provider_id=read.text(data, "webinarID") or read.text(data, "webinarId"),
        organizer_key=read.key(data, "organizerKey", required=False),
        time_zone=read.text(data, "timeZone"),
        recurrence=read.text(data, "recurrenceType") or read.text(data, "type") or "single_session",
        recurrence_key=read.key(data, "recurrenceKey", required=False),
        recurrence_period=read.text(data, "recurrencePeriod"),
        registration_url=read.text(data, "registrationUrl"),
        extra=extra,
    )


def read_registrant(read: Reader, data: Any) -> RegistrantRecord:
    data = read.obj(data)
    return RegistrantRecord(
        email=read.email(data),
        first_name=read.text(data, "firstName"),
        last_name=read.text(data, "lastName"),
        key=read.key(data, "registrantKey"),
        status=status_of(read.text(data, "status")),
        registered_at=read.instant(data, "registrationDate", required=False),
        join_url=read.text(data, "joinUrl"),
        time_zone=read.text(data, "timeZone"),
    )


def read_session(read: Reader, data: Any) -> SessionRecord:
    data = read.obj(data)
    return SessionRecord(
        key=read.key(data, "sessionKey"),
        event_key=read.key(data, "webinarKey", required=False),
        starts_at=read.instant(data, "startTime"),
        ends_at=read.instant(data, "endTime"),
        attendee_count=read.integer(data, "registrantsAttended"),
        registrant_count=read.integer(data, "registrantCount"),
    )


def read_attendee(read: Reader, data: Any) -> AttendeeRecord:
    data = read.obj(data)
    intervals = []
    for item in read.items(data, "attendance"):
        item = read.obj(item)
        intervals.append((read.instant(item, "joinTime"), read.instant(item, "leaveTime", required=False)))
    intervals.sort(key=lambda pair: pair[0])
    duration = read.seconds(data, "attendanceTimeInSeconds", "s", default=None)
    if duration is None:
        duration = int(sum((leave - join).total_seconds() for join, leave in intervals if leave))
    return AttendeeRecord(
        email=read.email(data),
        first_name=read.text(data, "firstName"),
        last_name=read.text(data, "lastName"),
        registrant_key=read.key(data, "registrantKey", required=False),
        intervals=intervals,
        duration_seconds=duration,
    )


def read_hal_page(read: Reader, data: Any, name: str, item_reader, page: int) -> Page:
    data = read.obj(data)
    items = [item_reader(read, item) for item in read.items(data, "_embedded", name)]
    info = data.get("page") if isinstance(data.get("page"), Mapping) else {}
    total = read.integer(info, "totalElements", default=len(items))
    total_pages = read.integer(info, "totalPages", default=1 if items else 0)
    return Page(items=items, number=read.integer(info, "number", default=page), total_pages=total_pages,
                total=total)


class WebinarApi(GoToApi):
    api = "g2w"
    prefix = "/G2W/rest/v2"
    label = "GoToWebinar"

    def _org(self, organizer_key: str | None = None) -> str:
        return organizer_key or self.require_organizer()

    # -- webinars -------------------------------------------------------------------------
    def webinars(self, start: datetime, end: datetime, page: int = 0, size: int = MAX_PAGE_SIZE,
                 organizer_key: str | None = None) -> Page[EventRecord]:
        """Webinars whose first session starts in ``[start, end]`` (GoTo's window rule)."""
        data = self.http.get("/organizers/{organizerKey}/webinars",
                             path_params={"organizerKey": self._org(organizer_key)},
                             params={"fromTime": iso_z(start), "toTime": iso_z(end), "page": page,
                                     "size": min(size, MAX_PAGE_SIZE)}).data
        return read_hal_page(self.reader("a webinar list"), data, "webinars", read_webinar, page)

    def webinar(self, webinar_key: str, organizer_key: str | None = None) -> EventRecord:
        """One webinar; a cancelled one answers 404 (ProviderError with status 404)."""
        data = self.http.get("/organizers/{organizerKey}/webinars/{webinarKey}",
                             path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key}).data
        return read_webinar(self.reader("a webinar"), data)

    def start_url(self, webinar_key: str) -> str:
        """The organizer's start link (no separate login needed)."""
        data = self.http.get("/webinars/{webinarKey}/startUrl", path_params={"webinarKey": webinar_key}).data
        read = self.reader("a start link")
        return read.text(read.obj(data), "startUrl", required=True)

    # -- registrants ------------------------------------------------------------------------
    def registrants(self, webinar_key: str, page: int = 0, limit: int = MAX_PAGE_SIZE,
                    organizer_key: str | None = None) -> Page[RegistrantRecord]:
        data = self.http.get("/organizers/{organizerKey}/webinars/{webinarKey}/registrants",
                             path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key},
                             params={"page": page, "limit": min(limit, MAX_PAGE_SIZE)}).data
        read = self.reader("a registrant list")
        if isinstance(data, list):  # the unpaged shape, should a gateway drop the parameters
            items = [read_registrant(read, item) for item in data]
            return Page(items=items, number=0, total_pages=1, total=len(items))
        data = read.obj(data)
        items = [read_registrant(read, item) for item in read.items(data, "data")]
        total = read.integer(data, "total", default=len(items))
        size = read.integer(data, "limit", default=limit) or limit
        return Page(items=items, number=page, total_pages=max(1, -(-total // size)), total=total)

    def registrant(self, webinar_key: str, registrant_key: str, organizer_key: str | None = None
                   ) -> RegistrantRecord:
        data = self.http.get(
            "/organizers/{organizerKey}/webinars/{webinarKey}/registrants/{registrantKey}",
            path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key,
                         "registrantKey": registrant_key}).data
        return read_registrant(self.reader("a registrant"), data)

    def create_registrant(self, webinar_key: str, *, email: str, first_name: str, last_name: str,
                          fields: Mapping[str, Any] | None = None, resend_confirmation: bool = False,
                          organizer_key: str | None = None) -> tuple[str, str]:
        """Register someone; returns ``(registrantKey, joinUrl)``.

        Without ``fields`` the v1.1 Accept header is used: GoTo then takes only the names
        and the e-mail, so custom questions marked required cannot block the
        registration. With ``fields`` (address, organization, ``responses``...) every
        required field of the webinar must be given. Raises ``AlreadyRegistered`` on 409.
        """
        body = {"firstName": first_name, "lastName": last_name, "email": email, **dict(fields or {})}
        response = self.http.post(
            "/organizers/{organizerKey}/webinars/{webinarKey}/registrants",
            path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key},
            params={"resendConfirmation": resend_confirmation or None}, json=body,
            headers={"Accept": "application/json" if fields else BASIC_ACCEPT}, allow=(409,))
        read = self.reader("a registration answer")
        if response.status == 409:
            detail = read.text(response.data or {}, "description") if isinstance(response.data, Mapping) else ""
            raise AlreadyRegistered(self.label, detail=detail)
        data = read.obj(response.data)
        return read.key(data, "registrantKey"), read.text(data, "joinUrl")

    def registration_fields(self, webinar_key: str, organizer_key: str | None = None) -> dict[str, list[dict]]:
        """What the webinar's registration form asks: ``{"fields": [{field, required, answers?}],
        "questions": [{key, question, type, required, answers: [{key, answer}]}]}`` (keys as strings)."""
        data = self.http.get("/organizers/{organizerKey}/webinars/{webinarKey}/registrants/fields",
                             path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key}).data
        read = self.reader("a registration form")
        data = read.obj(data)
        fields = []
        for item in read.items(data, "fields"):
            item = read.obj(item)
            fields.append({"field": read.text(item, "field", required=True), "required": bool(item.get("required")),
                           "answers": [str(a) for a in item.get("answers") or [] if isinstance(a, str)]})
        questions = []
        for item in read.items(data, "questions"):
            item = read.obj(item)
            questions.append({
                "key": read.key(item, "questionKey"), "question": read.text(item, "question", required=True),
                "type": read.text(item, "type") or "shortAnswer", "required": bool(item.get("required")),
                "answers": [{"key": read.key(read.obj(a), "answerKey"), "answer": read.text(a, "answer")}
                            for a in read.items(item, "answers")]})
        return {"fields": fields, "questions": questions}

    def delete_registrant(self, webinar_key: str, registrant_key: str, organizer_key: str | None = None) -> None:
        self.http.delete("/organizers/{organizerKey}/webinars/{webinarKey}/registrants/{registrantKey}",
                         path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key,
                                      "registrantKey": registrant_key})

    # -- sessions and attendees ---------------------------------------------------------------
    def sessions(self, start: datetime, end: datetime, page: int = 0, size: int = MAX_PAGE_SIZE,
                 organizer_key: str | None = None) -> Page[SessionRecord]:
        """Completed sessions of every webinar of the organizer, started in ``[start, end]``."""
        data = self.http.get("/organizers/{organizerKey}/sessions",
                             path_params={"organizerKey": self._org(organizer_key)},
                             params={"fromTime": iso_z(start), "toTime": iso_z(end), "page": page,
                                     "size": min(size, MAX_PAGE_SIZE)}).data
        return read_hal_page(self.reader("a session list"), data, "sessionInfoResources", read_session, page)

    def webinar_sessions(self, webinar_key: str, page: int = 0, size: int = MAX_PAGE_SIZE,
                         organizer_key: str | None = None) -> Page[SessionRecord]:
        data = self.http.get("/organizers/{organizerKey}/webinars/{webinarKey}/sessions",
                             path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key},
                             params={"page": page, "size": min(size, MAX_PAGE_SIZE)}).data
        result = read_hal_page(self.reader("a session list"), data, "sessionInfoResources", read_session, page)
        for item in result.items:
            item.event_key = item.event_key or webinar_key
        return result

    def session_attendees(self, webinar_key: str, session_key: str, organizer_key: str | None = None
                          ) -> list[AttendeeRecord]:
        """Everyone who joined one completed session (no-shows are absent), in one answer."""
        data = self.http.get("/organizers/{organizerKey}/webinars/{webinarKey}/sessions/{sessionKey}/attendees",
                             path_params={"organizerKey": self._org(organizer_key), "webinarKey": webinar_key,
                                          "sessionKey": session_key}).data
        read = self.reader("an attendee list")
        return [read_attendee(read, item) for item in read.items(data)]

    # -- webhooks (set-up) ----------------------------------------------------------------------
    def create_secret_key(self) -> tuple[str, str]:
        """A new signing secret for the OAuth application: ``(id, value)``."""
        data = self.http.post("/webhooks/secretkey", json={}).data
        read = self.reader("a webhook secret key")
        data = read.obj(data)
        return read.key(data, "id"), read.text(data, "value", required=True)

    def create_webhooks(self, callback_url: str, events=WEBHOOK_EVENTS) -> dict[str, str]:
        """``{eventName: webhookKey}`` (created INACTIVE, as GoTo does)."""
        data = self.http.post("/webhooks", json=[{"callbackUrl": callback_url, "eventName": name,
                                                   "eventVersion": EVENT_VERSION, "product": "g2w"}
                                                  for name in events]).data
        read = self.reader("a webhook list")
        out = {}
        for item in read.items(data, "_embedded", "webhooks"):
            item = read.obj(item)
            out[read.text(item, "eventName", required=True)] = read.key(item, "webhookKey")
        return out

    def set_webhooks_state(self, webhook_keys: list[str], state: str = "ACTIVE") -> None:
        self.http.put("/webhooks", json=[{"webhookKey": key, "state": state} for key in webhook_keys])

    def delete_webhooks(self, webhook_keys: list[str]) -> None:
        self.http.request("DELETE", "/webhooks", json=list(webhook_keys))

    def subscribe(self, webhook_keys: list[str]) -> dict[str, str]:
        """Subscribe the connected user: ``{webhookKey: userSubscriptionKey}``."""
        data = self.http.post("/userSubscriptions", json=[{"webhookKey": key, "userSubscriptionState": "ACTIVE"}
                                                          for key in webhook_keys]).data
        read = self.reader("a subscription list")
        out = {}
        for item in read.items(data, "_embedded", "userSubscriptions"):
            item = read.obj(item)
            out[read.key(item, "webhookKey")] = read.key(item, "userSubscriptionKey")
        return out

    def unsubscribe(self, subscription_keys: list[str]) -> None:
        self.http.request("DELETE", "/userSubscriptions", json=list(subscription_keys))

    def subscriptions(self) -> list[dict[str, str]]:
        data = self.http.get("/userSubscriptions", params={"product": "g2w"}).data
        read = self.reader("a subscription list")
        return [{"key": read.key(read.obj(item), "userSubscriptionKey"),
                 "webhook_key": read.key(item, "webhookKey"),
                 "event": read.text(item, "eventName"),
                 "state": read.text(item, "activationState")}
                for item in read.items(data, "_embedded", "userSubscriptions")]


def is_gone(exc: ProviderError) -> bool:
    """A 404 for a known event: GoTo answers 404 for cancelled webinars and deleted trainings."""
    return exc.status == 404 and exc.code in ("NotFound", "NoSuchTraining", "")
