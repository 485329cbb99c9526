"""GoToAssist Remote Support (``/G2A/rest/v1``) and the sandbox extension group.

Documented Remote Support calls (goto-api.md §6.1):

* ``POST /sessions`` creates a screen-sharing session (``partnerObject`` = CRM ticket id)
  and answers 200 with the session, ``customerJoinUrl`` and ``startScreenSharing.launchUrl``
  (the expert's URL);
* ``GET /sessions?sessionType=screen_sharing&fromTime&toTime`` →
  ``{totalNumSessions, sessions}``; ``GET /extendedsessions?fromTime&toTime`` → ``{sessions}``;
* ``GET /sessions/{sessionId}`` (also by session start token) and
  ``GET /sessions/{sessionId}/events`` (chat transcript, 404 when there is none);
* ``GET /session?sessionType=SCREEN_SHARING...`` (unauthenticated) → 302 to the launcher;
* status changes are POSTed to the session's ``sessionStatusCallbackUrl``.

Capabilities with no documented REST call today (the old Integration Services: session
reports with portal / custom fields / resolution / rating, Phone Mode connection codes,
agent monitoring, the waiting queue) live under ``/G2A/rest/v1/x-sandbox/``. Each
endpoint there answers 404 ``{"errorCode": "NOT_FOUND", ...}`` (the same body as an
unrouted path on api.getgo.com) when the caller's account lacks the capability, so a
client can probe ``GET /G2A/rest/v1/x-sandbox/capabilities`` and hide the feature:
against the real service, and on accounts without any capability, that probe is 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..common import HTTPError, Request, Response, Router, json_response, no_content, redirect
from .base import bad_request, iso_z, json_body, not_found_route, product_error, required_time_arg
from .state import AssistEvent, AssistSession, ConnectionCode, Organizer, QueuedCustomer

if TYPE_CHECKING:
    from .app import GoToSandbox

G2A = "/G2A/rest/v1"
X = f"{G2A}/x-sandbox"
MAX_ACTIVE_CODES = 8


def launch_url(sb: GoToSandbox, s: AssistSession) -> str:
    return sb.url(f"/gotoassist/launch/{s.start_token}")


def customer_join_url(sb: GoToSandbox, s: AssistSession) -> str:
    return sb.url(f"/gotoassist/join/{s.start_token}")


def session_json(sb: GoToSandbox, s: AssistSession, *, detail: bool = False) -> dict[str, Any]:
    expert = sb.state.organizers.get(s.expert_key)
    data: dict[str, Any] = {
        "sessionId": s.session_id,
        "sessionType": s.session_type,
        "status": s.status,
        "sessionStartToken": s.start_token,
        "customerJoinUrl": customer_join_url(sb, s),
        "partnerObject": s.partner_object,
        "partnerObjectUrl": s.partner_object_url,
        "startedAt": iso_z(s.started_at),
        "customerJoinedAt": iso_z(s.customer_joined_at),
        "endedAt": iso_z(s.ended_at),
        "expertName": expert.name if expert else "",
        "expertEmail": expert.email if expert else "",
        "expertUserKey": str(s.expert_key),
        "customerName": s.customer_name,
        "customerEmail": s.customer_email,
        "accountKey": str(s.account_key),
        "sessionRecordingUrl": sb.url(f"/gotoassist/recordings/{s.session_id}") if s.recording else None,
    }
    if detail:
        account = sb.state.accounts.get(s.account_key)
        data.update({
            "notes": s.notes,
            "collaborators": [],
            "unattendedMachineName": "",
            "unattendedMachineUuid": s.machine_uuid,
            "accountName": account.name if account else "",
        })
    return data


def report_json(sb: GoToSandbox, s: AssistSession) -> dict[str, Any]:
    expert = sb.state.organizers.get(s.expert_key)
    duration = None
    if s.started_at and s.ended_at:
        duration = int((s.ended_at - s.started_at).total_seconds())
    return {
        "sessionId": s.session_id,
        "status": s.status,
        "agent": {"userKey": str(s.expert_key), "name": expert.name if expert else "",
                  "email": expert.email if expert else ""},
        "entryPortal": s.portal,
        "partnerObject": s.partner_object,
        "customerName": s.customer_name,
        "customerEmail": s.customer_email,
        "createdAt": iso_z(s.created_at),
        "startedAt": iso_z(s.started_at),
        "customerJoinedAt": iso_z(s.customer_joined_at),
        "endedAt": iso_z(s.ended_at),
        "durationSeconds": duration,
        "customFields": dict(s.custom_fields),
        "events": [{"timeStamp": iso_z(e.at), "type": e.kind, "participantName": e.participant,
                    "content": e.content} for e in s.events],
        "resolution": s.resolution,
        "rating": s.rating,
        "feedback": s.feedback,
        "replayUrl": sb.url(f"/gotoassist/recordings/{s.session_id}") if s.recording else None,
    }


# ---------------------------------------------------------------------------
# Core operations


def _notify(sb: GoToSandbox, s: AssistSession) -> None:
    if s.callback_url:
        sb.webhooks.callback(s.callback_url, f"session.{s.status}", session_json(sb, s, detail=True))


def create_session(sb: GoToSandbox, expert: Organizer, data: dict[str, Any]) -> AssistSession:
    session_type = str(data.get("sessionType") or "").lower()
    if session_type != "screen_sharing":
        raise bad_request("sessionType is required; only screen_sharing is supported.")
    if data.get("machineUuid"):
        raise product_error(404, "NotFound", f"Machine {data['machineUuid']} was not found.")
    strings = {}
    for name in ("partnerObject", "partnerObjectUrl", "customerName", "customerEmail", "sessionStatusCallbackUrl"):
        value = data.get(name) or ""
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string.")
        strings[name] = value
    session_id = sb.state.keys.digits(10)
    while session_id in sb.state.assist_sessions:
        session_id = sb.state.keys.digits(10)
    session = AssistSession(
        session_id=session_id,
        account_key=expert.account_key,
        expert_key=expert.organizer_key,
        session_type="screen_sharing",
        status="notStarted",
        created_at=sb.now().replace(microsecond=0),
        start_token=f"{sb.state.rng.getrandbits(64):016x}",
        customer_name=strings["customerName"],
        customer_email=strings["customerEmail"],
        partner_object=strings["partnerObject"],
        partner_object_url=strings["partnerObjectUrl"],
        callback_url=strings["sessionStatusCallbackUrl"],
    )
    return sb.state.add_assist_session(session)


def mark_started(sb: GoToSandbox, s: AssistSession) -> None:
    """The expert opened the launch URL: the session waits for the customer."""
    if s.status != "notStarted":
        return
    s.status = "waiting"
    s.started_at = sb.now().replace(microsecond=0)
    sb.state.queue.append(QueuedCustomer(s.session_id, s.customer_name, s.portal, s.started_at))
    _notify(sb, s)


def mark_customer_joined(sb: GoToSandbox, s: AssistSession) -> None:
    if s.status == "notStarted":
        mark_started(sb, s)
    if s.status != "waiting":
        return
    s.status = "active"
    s.customer_joined_at = sb.now().replace(microsecond=0)
    sb.state.queue = [q for q in sb.state.queue if q.session_id != s.session_id]
    _notify(sb, s)


def finish(sb: GoToSandbox, s: AssistSession, *, resolution: str | None = None, notes: str | None = None) -> None:
    if s.status in ("complete", "abandoned"):
        return
    now = sb.now().replace(microsecond=0)
    if s.status == "notStarted":
        s.ended_at = now
    else:
        s.status = "complete" if s.status == "active" else "abandoned"
        s.ended_at = now
    if resolution is not None:
        s.resolution = resolution
    if notes is not None:
        s.notes = notes
    sb.state.queue = [q for q in sb.state.queue if q.session_id != s.session_id]
    _notify(sb, s)


# ---------------------------------------------------------------------------
# Python helpers


def add_assist_session(
    sb: GoToSandbox,
    customer_name: str = "Test Customer",
    customer_email: str = "customer@example.com",
    *,
    partner_object: str = "",
    partner_object_url: str = "",
    expert: Organizer | int | str | None = None,
    callback_url: str = "",
    portal: str = "Support",
    custom_fields: dict[str, str] | None = None,
) -> AssistSession:
    """Create a support session as ``POST /sessions`` would (status ``notStarted``)."""

    def do() -> AssistSession:
        s = create_session(sb, sb.organizer(expert), {
            "sessionType": "screen_sharing", "partnerObject": partner_object,
            "partnerObjectUrl": partner_object_url, "customerName": customer_name,
            "customerEmail": customer_email, "sessionStatusCallbackUrl": callback_url,
        })
        s.portal = portal
        s.custom_fields = dict(custom_fields or {})
        return s

    return sb.run(do)


def start_assist_session(sb: GoToSandbox, session_id: str, *, customer_joins: bool = True,
                         chat: list[tuple[str, str]] | None = None) -> AssistSession:
    """The expert starts the session (and, by default, the customer joins it).

    ``chat``: ``(participant, message)`` lines added to the transcript.
    """

    def do() -> AssistSession:
        s = sb.state.assist_sessions[session_id]
        mark_started(sb, s)
        if customer_joins:
            mark_customer_joined(sb, s)
        for participant, message in chat or []:
            s.events.append(AssistEvent(sb.now().replace(microsecond=0), "chat", participant, message))
        return s

    return sb.run(do)


def end_assist_session(sb: GoToSandbox, session_id: str, *, resolution: str | None = None, notes: str | None = None,
                       recording: bool = False) -> AssistSession:
    """End the session: ``complete`` if the customer had joined, else ``abandoned``."""

    def do() -> AssistSession:
        s = sb.state.assist_sessions[session_id]
        s.recording = s.recording or recording
        finish(sb, s, resolution=resolution, notes=notes)
        return s

    return sb.run(do)


def rate_assist_session(sb: GoToSandbox, session_id: str, rating: int, feedback: str | None = None,
                        resolution: str | None = None) -> AssistSession:
    """The customer's rating (1..5) and feedback; optionally the agent's resolution."""
    if not 1 <= int(rating) <= 5:
        raise ValueError("rating must be between 1 and 5")
    if resolution is not None and resolution not in ("resolved", "unresolved", "unknown"):
        raise ValueError("resolution must be resolved, unresolved or unknown")

    def do() -> AssistSession:
        s = sb.state.assist_sessions[session_id]
        s.rating = int(rating)
        s.feedback = feedback
        if resolution is not None:
            s.resolution = resolution
        return s

    return sb.run(do)


# ---------------------------------------------------------------------------
# HTTP API


def register(sb: GoToSandbox, router: Router) -> None:
    def find(req: Request, ref: str) -> AssistSession:
        s = sb.state.assist_sessions.get(ref)
        if s is None:
            s = next((x for x in sb.state.assist_sessions.values() if x.start_token == ref), None)
        if s is None or s.account_key != req.context["user"].account_key:
            raise product_error(404, "NotFound", f"Session {ref} was not found.")
        return s

    def in_window(req: Request) -> list[AssistSession]:
        start = required_time_arg(req, "fromTime")
        end = required_time_arg(req, "toTime")
        if end < start:
            raise bad_request("toTime must not be before fromTime.")
        user = req.context["user"]
        index = sb.state.assist_by_account.get(user.account_key)
        if index is None:
            return []
        lo, hi = index.bounds(start, end)
        return [sb.state.assist_sessions[sb.state.assist_numeric[key]] for _, key in index.items[lo:hi]]

    def require_seat(req: Request) -> Organizer:
        user: Organizer = req.context["user"]
        if "G2A" not in user.products:
            raise product_error(401, "Unauthorized", "The user has no GoToAssist Remote Support seat.")
        return user

    def create(req: Request) -> Response:
        expert = require_seat(req)
        s = create_session(sb, expert, json_body(req, dict))
        data = session_json(sb, s, detail=True)
        data["startScreenSharing"] = {"launchUrl": launch_url(sb, s)}
        return json_response(data)

    def list_sessions(req: Request) -> Response:
        require_seat(req)
        kind = req.arg("sessionType")
        if kind is not None and kind.lower() != "screen_sharing":
            raise bad_request("sessionType must be SCREEN_SHARING.")
        sessions = in_window(req)
        return json_response({"totalNumSessions": len(sessions),
                              "sessions": [session_json(sb, s) for s in sessions]})

    def extended(req: Request) -> Response:
        require_seat(req)
        return json_response({"sessions": [session_json(sb, s) for s in in_window(req)]})

    def get(req: Request, sessionId: str) -> Response:
        require_seat(req)
        return json_response(session_json(sb, find(req, sessionId), detail=True))

    def events(req: Request, sessionId: str) -> Response:
        require_seat(req)
        s = find(req, sessionId)
        chat = [e for e in s.events if e.kind == "chat"]
        if not chat:
            raise product_error(404, "NotFound", f"Session {sessionId} has no chat transcript.")
        return json_response({
            "sessionId": s.session_id,
            "startTime": iso_z(s.customer_joined_at or s.started_at),
            "endTime": iso_z(s.ended_at),
            "events": [{"timeStamp": iso_z(e.at), "content": e.content, "participantName": e.participant}
                       for e in chat],
        })

    def browser_launch(req: Request) -> Response:
        if (req.arg("sessionType") or "").upper() != "SCREEN_SHARING":
            raise bad_request("sessionType=SCREEN_SHARING is required.")
        experts = [o for o in sb.state.organizers.values() if "G2A" in o.products]
        if not experts:
            raise bad_request("No GoToAssist expert is available.")
        s = create_session(sb, experts[0], {
            "sessionType": "screen_sharing", "partnerObject": req.arg("partnerObject") or "",
            "partnerObjectUrl": req.arg("partnerObjectUrl") or "",
            "sessionStatusCallbackUrl": req.arg("sessionStatusCallbackUrl") or "",
        })
        return redirect(launch_url(sb, s), 302)

    # -- sandbox extension group --------------------------------------------------------
    def capable(req: Request, capability: str) -> Organizer:
        user: Organizer = req.context["user"]
        account = sb.state.accounts.get(user.account_key)
        if account is None or capability not in account.g2a_capabilities:
            raise HTTPError(not_found_route(req.path))
        return user

    def capabilities(req: Request) -> Response:
        user: Organizer = req.context["user"]
        account = sb.state.accounts[user.account_key]
        if not account.g2a_capabilities:
            raise HTTPError(not_found_route(req.path))
        return json_response({
            "accountKey": str(account.account_key),
            "capabilities": sorted(account.g2a_capabilities),
            "sandbox": True,
        })

    def session_reports(req: Request) -> Response:
        capable(req, "sessionReports")
        sessions = [s for s in in_window(req) if s.status in ("complete", "abandoned")]
        return json_response({"totalNumSessions": len(sessions),
                              "sessionReports": [report_json(sb, s) for s in sessions]})

    def session_report(req: Request, sessionId: str) -> Response:
        capable(req, "sessionReports")
        return json_response(report_json(sb, find(req, sessionId)))

    def code_json(c: ConnectionCode) -> dict[str, Any]:
        status = "cancelled" if c.cancelled_at else ("expired" if c.expires_at <= sb.now() else "active")
        s = sb.state.assist_sessions.get(c.session_id)
        return {"code": c.code, "sessionId": c.session_id, "expertUserKey": str(c.expert_key),
                "createdAt": iso_z(c.created_at), "expiresAt": iso_z(c.expires_at), "status": status,
                "customerJoinUrl": customer_join_url(sb, s) if s else None}

    def active_codes(user: Organizer) -> list[ConnectionCode]:
        now = sb.now()
        return [c for c in sb.state.connection_codes.values()
                if c.expert_key == user.organizer_key and c.cancelled_at is None and c.expires_at > now]

    def create_code(req: Request) -> Response:
        user = capable(req, "connectionCodes")
        data = json_body(req, dict) if req.body.strip() else {}
        if len(active_codes(user)) >= MAX_ACTIVE_CODES:
            raise product_error(409, "TooManyActiveCodes",
                                f"An expert can hold at most {MAX_ACTIVE_CODES} active connection codes.")
        try:
            minutes = int(data.get("validMinutes", 20))
        except (TypeError, ValueError):
            raise bad_request("validMinutes must be an integer.") from None
        if not 1 <= minutes <= 1440:
            raise bad_request("validMinutes must be between 1 and 1440.")
        s = create_session(sb, user, {**data, "sessionType": "screen_sharing"})
        code = sb.state.keys.digits(9)
        while code in sb.state.connection_codes:
            code = sb.state.keys.digits(9)
        now = sb.now().replace(microsecond=0)
        record = ConnectionCode(code, s.session_id, user.organizer_key, user.account_key, now,
                                now + timedelta(minutes=minutes))
        sb.state.connection_codes[code] = record
        return json_response(code_json(record), 201)

    def list_codes(req: Request) -> Response:
        user = capable(req, "connectionCodes")
        return json_response({"codes": [code_json(c) for c in active_codes(user)]})

    def cancel_code(req: Request, code: str) -> Response:
        user = capable(req, "connectionCodes")
        record = sb.state.connection_codes.get(code)
        if record is None or record.account_key != user.account_key or record.cancelled_at is not None:
            raise product_error(404, "NotFound", f"Connection code {code} was not found.")
        record.cancelled_at = sb.now()
        s = sb.state.assist_sessions.get(record.session_id)
        if s is not None and s.status == "notStarted":
            finish(sb, s)
        return no_content(204)

    def agents(req: Request) -> Response:
        user = capable(req, "agentStatus")
        active: dict[int, int] = {}
        waiting: dict[int, int] = {}
        for s in sb.state.assist_sessions.values():
            if s.account_key != user.account_key:
                continue
            if s.status == "active":
                active[s.expert_key] = active.get(s.expert_key, 0) + 1
            elif s.status == "waiting":
                waiting[s.expert_key] = waiting.get(s.expert_key, 0) + 1
        out = []
        for o in sb.state.organizers_of(user.account_key):
            if "G2A" not in o.products:
                continue
            presence = sb.state.agent_presence.get(o.organizer_key, "available")
            status = "busy" if active.get(o.organizer_key) and presence != "offline" else presence
            out.append({"userKey": str(o.organizer_key), "name": o.name, "email": o.email, "status": status,
                        "activeSessions": active.get(o.organizer_key, 0),
                        "waitingSessions": waiting.get(o.organizer_key, 0)})
        return json_response({"agents": out})

    def set_agent(req: Request, userKey: int) -> Response:
        user = capable(req, "agentStatus")
        data = json_body(req, dict)
        status = data.get("status")
        if status not in ("available", "away", "offline"):
            raise bad_request("status must be available, away or offline.")
        other = sb.state.organizers.get(userKey)
        if other is None or other.account_key != user.account_key:
            raise product_error(404, "NotFound", f"Agent {userKey} was not found.")
        if other.organizer_key != user.organizer_key and not user.is_admin:
            raise product_error(403, "Forbidden", "Only an administrator can change another agent's status.")
        sb.state.agent_presence[userKey] = status
        return no_content(204)

    def queue(req: Request) -> Response:
        user = capable(req, "waitingQueue")
        now = sb.now()
        customers = []
        for q in sb.state.queue:
            s = sb.state.assist_sessions.get(q.session_id)
            if s is None or s.account_key != user.account_key:
                continue
            customers.append({"sessionId": q.session_id, "customerName": q.customer_name, "portal": q.portal,
                              "waitingSince": iso_z(q.waiting_since),
                              "waitingSeconds": max(0, int((now - q.waiting_since).total_seconds()))})
        return json_response({"waitingCount": len(customers),
                              "longestWaitSeconds": max((c["waitingSeconds"] for c in customers), default=0),
                              "customers": customers})

    routes = [
        ("POST", f"{G2A}/sessions", create, True),
        ("GET", f"{G2A}/sessions", list_sessions, True),
        ("GET", f"{G2A}/extendedsessions", extended, True),
        ("GET", f"{G2A}/sessions/{{sessionId}}", get, True),
        ("GET", f"{G2A}/sessions/{{sessionId}}/events", events, True),
        ("GET", f"{G2A}/session", browser_launch, False),
        ("GET", f"{X}/capabilities", capabilities, True),
        ("GET", f"{X}/sessionReports", session_reports, True),
        ("GET", f"{X}/sessions/{{sessionId}}/report", session_report, True),
        ("POST", f"{X}/connectionCodes", create_code, True),
        ("GET", f"{X}/connectionCodes", list_codes, True),
        ("DELETE", f"{X}/connectionCodes/{{code}}", cancel_code, True),
        ("GET", f"{X}/agents", agents, True),
        ("PUT", f"{X}/agents/{{userKey:int}}/status", set_agent, True),
        ("GET", f"{X}/queue", queue, True),
    ]
    for method, template, handler, auth in routes:
        router.add(method, template, handler, auth=auth)

