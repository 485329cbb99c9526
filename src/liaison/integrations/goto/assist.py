"""GoToAssist Remote Support client (``/G2A/rest/v1``), typed, with its capability probe.

The documented API lists support sessions by creation time (``extendedsessions``,
``fromTime``/``toTime``, not paginated), reads one session and creates one (the expert's
launch URL comes back in ``startScreenSharing.launchUrl``). Session reports with the
resolution, the customer's rating and feedback (the old Integration Services data) are an
account capability: ``GET /x-sandbox/capabilities`` answers 200 with the list where the
account has it; any other answer (404 on GoTo's real API) means "not available", and the
feature is hidden with a message instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from liaison.core.http import ProviderError
from liaison.integrations.goto.client import GoToApi, Reader, iso_z

FINAL_STATUSES = ("complete", "abandoned")
OPEN_STATUSES = ("notStarted", "waiting", "active")


@dataclass(slots=True)
class AssistRecord:
    session_id: str
    status: str
    created_at: datetime | None = None
    started_at: datetime | None = None
    customer_joined_at: datetime | None = None
    ended_at: datetime | None = None
    customer_name: str = ""
    customer_email: str = ""
    expert_name: str = ""
    expert_email: str = ""
    expert_key: str = ""
    partner_object: str = ""
    partner_object_url: str = ""
    customer_join_url: str = ""
    launch_url: str = ""
    recording_url: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AssistReport:
    """Fields of the session-report capability (resolution, rating, ...)."""

    session_id: str
    resolution: str = ""
    rating: int | None = None
    feedback: str = ""
    portal: str = ""
    duration_seconds: int | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)


def read_session(read: Reader, data: Any) -> AssistRecord:
    data = read.obj(data)
    launch = data.get("startScreenSharing") if isinstance(data.get("startScreenSharing"), dict) else {}
    return AssistRecord(
        session_id=read.key(data, "sessionId"),
        status=read.text(data, "status", required=True),
        started_at=read.instant(data, "startedAt", required=False),
        customer_joined_at=read.instant(data, "customerJoinedAt", required=False),
        ended_at=read.instant(data, "endedAt", required=False),
        customer_name=read.text(data, "customerName"),
        customer_email=read.email(data, "customerEmail", required=False),
        expert_name=read.text(data, "expertName"),
        expert_email=read.text(data, "expertEmail"),
        expert_key=read.key(data, "expertUserKey", required=False),
        partner_object=read.text(data, "partnerObject"),
        partner_object_url=read.text(data, "partnerObjectUrl"),
        customer_join_url=read.text(data, "customerJoinUrl"),
        launch_url=read.text(launch, "launchUrl"),
        recording_url=read.text(data, "sessionRecordingUrl"),
        notes=read.text(data, "notes"),
    )


def read_report(read: Reader, data: Any) -> AssistReport:
    data = read.obj(data)
    custom = data.get("customFields") if isinstance(data.get("customFields"), dict) else {}
    rating = read.integer(data, "rating")
    return AssistReport(
        session_id=read.key(data, "sessionId"),
        resolution=read.text(data, "resolution"),
        rating=rating,
        feedback=read.text(data, "feedback"),
        portal=read.text(data, "entryPortal"),
        duration_seconds=read.integer(data, "durationSeconds"),
        custom_fields={str(k): str(v) for k, v in custom.items()},
    )


class AssistApi(GoToApi):
    api = "g2a"
    prefix = "/G2A/rest/v1"
    label = "GoToAssist"

    def sessions(self, start: datetime, end: datetime) -> list[AssistRecord]:
        """Support sessions created in ``[start, end]`` (every session type)."""
        data = self.http.get("/extendedsessions", params={"fromTime": iso_z(start), "toTime": iso_z(end)}).data
        read = self.reader("a support-session list")
        return [read_session(read, item) for item in read.items(data, "sessions")]

    def session(self, session_id: str) -> AssistRecord:
        data = self.http.get("/sessions/{sessionId}", path_params={"sessionId": session_id}).data
        return read_session(self.reader("a support session"), data)

    def create_session(self, *, customer_name: str = "", customer_email: str = "", partner_object: str = "",
                       partner_object_url: str = "", callback_url: str = "") -> AssistRecord:
        """A screen-sharing session; the answer carries the expert's launch URL and the customer's join URL."""
        data = self.http.post("/sessions", json={
            "sessionType": "screen_sharing", "partnerObject": partner_object, "partnerObjectUrl": partner_object_url,
            "customerName": customer_name, "customerEmail": customer_email,
            "sessionStatusCallbackUrl": callback_url}).data
        return read_session(self.reader("a new support session"), data)

    def capabilities(self) -> set[str]:
        """The account's extra capabilities; an empty set where the probe is not answered 200."""
        try:
            response = self.http.get("/x-sandbox/capabilities", allow=(400, 404, 405, 501))
        except ProviderError as exc:
            if exc.status in (401, 403) and exc.code != "InvalidToken":
                return set()
            raise
        if response.status != 200:
            return set()
        data = response.data
        items = data.get("capabilities") if isinstance(data, dict) else None
        return {str(item) for item in items or [] if isinstance(item, str)}

    def session_reports(self, start: datetime, end: datetime) -> dict[str, AssistReport]:
        """Reports of ended sessions created in ``[start, end]`` (needs ``sessionReports``)."""
        data = self.http.get("/x-sandbox/sessionReports",
                             params={"fromTime": iso_z(start), "toTime": iso_z(end)}).data
        read = self.reader("a session-report list")
        reports = [read_report(read, item) for item in read.items(data, "sessionReports")]
        return {report.session_id: report for report in reports}


    # -- the capability group (Integration Services: Phone Mode, Monitors). Each call answers 404
    # where the account lacks the capability: check ``capabilities()`` first.
    def create_connection_code(self, *, partner_object: str = "", partner_object_url: str = "",
                               customer_name: str = "", customer_email: str = "", valid_minutes: int = 20
                               ) -> CodeRecord:
        data = self.http.post("/x-sandbox/connectionCodes", json={
            "partnerObject": partner_object, "partnerObjectUrl": partner_object_url, "customerName": customer_name,
            "customerEmail": customer_email, "validMinutes": valid_minutes}).data
        return read_code(self.reader("a connection code"), data)

    def connection_codes(self) -> list[CodeRecord]:
        """The caller's active codes."""
        data = self.http.get("/x-sandbox/connectionCodes").data
        read = self.reader("a connection-code list")
        return [read_code(read, item) for item in read.items(data, "codes")]

    def cancel_connection_code(self, code: str) -> None:
        self.http.delete("/x-sandbox/connectionCodes/{code}", path_params={"code": code})

    def agents(self) -> list[AgentRecord]:
        data = self.http.get("/x-sandbox/agents").data
        read = self.reader("an agent list")
        agents = []
        for item in read.items(data, "agents"):
            item = read.obj(item)
            agents.append(AgentRecord(user_key=read.key(item, "userKey"), name=read.text(item, "name"),
                                      email=read.text(item, "email"), status=read.text(item, "status", required=True),
                                      active_sessions=read.integer(item, "activeSessions", default=0) or 0,
                                      waiting_sessions=read.integer(item, "waitingSessions", default=0) or 0))
        return agents

    def queue(self) -> QueueRecord:
        data = self.http.get("/x-sandbox/queue").data
        read = self.reader("a waiting queue")
        data = read.obj(data)
        customers = []
        for item in read.items(data, "customers"):
            item = read.obj(item)
            customers.append(WaitingCustomer(
                session_id=read.key(item, "sessionId"), customer_name=read.text(item, "customerName"),
                portal=read.text(item, "portal"), waiting_since=read.instant(item, "waitingSince", required=False),
                waiting_seconds=read.integer(item, "waitingSeconds", default=0) or 0))
        return QueueRecord(waiting_count=read.integer(data, "waitingCount", default=len(customers)) or 0,
                           longest_wait_seconds=read.integer(data, "longestWaitSeconds", default=0) or 0,
                           customers=customers)

# -- capability group: Phone Mode connection codes, Monitors (agents, waiting queue) ----------------------

@dataclass(slots=True)
class CodeRecord:
    """A Phone Mode connection code (the customer types it to join the expert's session)."""

    code: str
    session_id: str
    expert_key: str
    created_at: datetime | None
    expires_at: datetime | None
    status: str
    customer_join_url: str = ""


@dataclass(slots=True)
class AgentRecord:
    user_key: str
    name: str
    email: str
    status: str  # available | away | offline | busy
    active_sessions: int = 0
    waiting_sessions: int = 0


@dataclass(slots=True)
class WaitingCustomer:
    session_id: str
    customer_name: str
    portal: str
    waiting_since: datetime | None
    waiting_seconds: int


@dataclass(slots=True)
class QueueRecord:
    waiting_count: int
    longest_wait_seconds: int
    customers: list[WaitingCustomer] = field(default_factory=list)


def read_code(read: Reader, data: Any) -> CodeRecord:
    data = read.obj(data)
    return CodeRecord(code=read.text(data, "code", required=True), session_id=read.key(data, "sessionId"),
                      expert_key=read.key(data, "expertUserKey", required=False),
                      created_at=read.instant(data, "createdAt", required=False),
                      expires_at=read.instant(data, "expiresAt", required=False),
                      status=read.text(data, "status", default="active"),
                      customer_join_url=read.text(data, "customerJoinUrl"))
