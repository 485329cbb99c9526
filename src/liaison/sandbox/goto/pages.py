"""The browser pages behind the URLs the API hands out (registration, join, start,
confirmation, recordings, GoToAssist launch and join).

They make the links in e-mails work in the demo. Opening a GoToWebinar or GoToTraining
join link while a session is live records the attendee's join (until the end of the
slot) and, for webinars, fires ``registrant.joined``; the GoToAssist launch and join
links move a support session to ``waiting`` and ``active``.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from ..common import HTTPError, Request, Response, Router, html_response
from . import assist
from .base import iso_z
from .state import AssistSession, Meeting, Training, TrainingSession, Webinar, WebinarSession
from .webinar import join_url, record_join, register_registrant

if TYPE_CHECKING:
    from .app import GoToSandbox


def page(title: str, body: str, status: int = 200) -> Response:
    return html_response(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)} (GoTo sandbox)</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}"
        "label{display:block;margin:.6rem 0 .2rem}input{font-size:1rem;padding:.3rem;width:100%}"
        "button{margin-top:1rem;font-size:1rem;padding:.5rem 1.2rem}.sandbox{color:#a15c00;font-size:.8rem}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}"
        "<p class=\"sandbox\">This page is served by the GoTo sandbox.</p></body></html>",
        status,
    )


def _missing(what: str) -> HTTPError:
    return HTTPError(page("Not found", f"<p>{html.escape(what)} does not exist or was cancelled.</p>", 404))


def _when(times: list[tuple[datetime, datetime]]) -> str:
    return ", ".join(f"{iso_z(s)} to {iso_z(e)}" for s, e in times)


def live_webinar_session(sb: GoToSandbox, w: Webinar, now: datetime) -> WebinarSession | None:
    slot = next(((s, e) for s, e in w.times if s <= now < e), None)
    if slot is None:
        return None
    session = next((s for s in w.sessions if s.start == slot[0]), None)
    if session is None:
        session = WebinarSession(sb.state.keys.key(), w.webinar_key, slot[0], slot[1],
                                 starting_organizer_key=w.organizer_key)
        sb.state.add_session(w, session)
    return session


def live_training_session(sb: GoToSandbox, t: Training, now: datetime) -> TrainingSession | None:
    slot = next(((s, e) for s, e in t.times if s <= now < e), None)
    if slot is None:
        return None
    session = next((s for s in t.sessions if s.start == slot[0]), None)
    if session is None:
        session = sb.state.add_training_session(t, TrainingSession(sb.state.keys.key(), t.training_key, *slot))
    return session


def register(sb: GoToSandbox, router: Router) -> None:
    def webinar(key: int) -> Webinar:
        w = sb.state.live_webinar(key)
        if w is None:
            raise _missing("This webinar")
        return w

    def webinar_register_form(req: Request, webinarKey: int) -> Response:
        w = webinar(webinarKey)
        form = (
            f"<p>{html.escape(w.description)}</p><p>When: {html.escape(_when(w.times))} ({html.escape(w.time_zone)})"
            f"</p><form method=\"post\"><label>First name<input name=\"firstName\" required></label>"
            "<label>Last name<input name=\"lastName\" required></label>"
            "<label>E-mail<input name=\"email\" type=\"email\" required></label>"
            "<button type=\"submit\">Register</button></form>"
        )
        return page(f"Register: {w.subject}", form)

    def webinar_register_post(req: Request, webinarKey: int) -> Response:
        w = webinar(webinarKey)
        form = req.form()
        try:
            registrant, _ = register_registrant(sb, w, form, basic=True, resend=True)
        except HTTPError as exc:
            return page("Registration failed", f"<pre>{html.escape(exc.response.body.decode())}</pre>", 400)
        link = join_url(sb, registrant)
        return page("You are registered",
                    f"<p>Join {html.escape(w.subject)} with your personal link: "
                    f"<a href=\"{html.escape(link)}\">{html.escape(link)}</a></p>", 201)

    def webinar_join(req: Request, webinarKey: int, joinId: str) -> Response:
        w = webinar(webinarKey)
        if joinId.startswith("panelist-"):
            return page(f"Panelist: {w.subject}", "<p>You are a panelist of this webinar.</p>")
        registrant = next((r for r in w.registrants.values() if str(r.join_id) == joinId), None)
        if registrant is None:
            raise _missing("This join link")
        now = sb.now()
        session = live_webinar_session(sb, w, now)
        if session is None:
            return page(w.subject, f"<p>Hello {html.escape(registrant.first_name)}, the webinar is not in session. "
                                   f"It takes place {html.escape(_when(w.times))}.</p>")
        record_join(sb, w, session, registrant, now, session.end)
        return page(w.subject, f"<p>Welcome {html.escape(registrant.first_name)}, you joined the webinar.</p>")

    def webinar_start(req: Request, webinarKey: int) -> Response:
        w = webinar(webinarKey)
        return page(f"Start: {w.subject}", f"<p>The organizer starts the webinar here "
                                           f"({html.escape(_when(w.times))}).</p>")

    def training(key: int) -> Training:
        t = sb.state.trainings.get(key)
        if t is None or t.deleted_at is not None:
            raise _missing("This training")
        return t

    def training_join(req: Request, trainingKey: int, joinId: str) -> Response:
        t = training(trainingKey)
        registrant = next((r for r in t.registrants.values() if str(r.join_id) == joinId), None)
        if registrant is None:
            raise _missing("This join link")
        now = sb.now()
        session = live_training_session(sb, t, now)
        if session is None:
            return page(t.name, f"<p>The training is not in session. It takes place "
                                f"{html.escape(_when(t.times))}.</p>")
        session.attendance.setdefault(registrant.registrant_key, []).append(
            (now.replace(microsecond=0), session.end))
        return page(t.name, f"<p>Welcome {html.escape(registrant.given_name)}, you joined the training.</p>")

    def training_confirmation(req: Request, trainingKey: int, registrantKey: int) -> Response:
        t = training(trainingKey)
        r = t.registrants.get(registrantKey)
        if r is None:
            raise _missing("This registration")
        return page(f"Registration confirmed: {t.name}",
                    f"<p>{html.escape(r.given_name)} {html.escape(r.surname)} ({html.escape(r.email)}) is "
                    f"registered. Sessions: {html.escape(_when(t.times))}.</p>")

    def training_start(req: Request, trainingKey: int) -> Response:
        t = training(trainingKey)
        return page(f"Start: {t.name}", "<p>The organizer starts the training here.</p>")

    def training_manage(req: Request, trainingKey: int) -> Response:
        t = training(trainingKey)
        return page(f"Manage: {t.name}", f"<p>{len(t.registrants)} registrants.</p>")

    def training_recording(req: Request, recordingId: int, action: str) -> Response:
        for t in sb.state.trainings.values():
            for rec in t.recordings:
                if rec.recording_id == recordingId:
                    return page(rec.name, f"<p>{html.escape(rec.description)} ({html.escape(action)})</p>")
        raise _missing("This recording")

    def meeting(key: int) -> Meeting:
        m = sb.state.meetings.get(key)
        if m is None or m.deleted_at is not None:
            raise _missing("This meeting")
        return m

    def meeting_join(req: Request, meetingId: int) -> Response:
        m = meeting(meetingId)
        return page(m.subject, f"<p>Meeting {m.meeting_id}: {iso_z(m.start)} to {iso_z(m.end)}.</p>")

    def meeting_start(req: Request, meetingId: int) -> Response:
        return page(f"Start: {meeting(meetingId).subject}", "<p>The organizer starts the meeting.</p>")

    def meeting_recording(req: Request, recordingId: str, action: str = "share") -> Response:
        return page("Meeting recording", f"<p>Recording {html.escape(recordingId)} ({html.escape(action)}).</p>")

    def assist_session(token: str) -> AssistSession:
        s = next((x for x in sb.state.assist_sessions.values() if x.start_token == token), None)
        if s is None:
            raise _missing("This support session")
        return s

    def assist_launch(req: Request, token: str) -> Response:
        s = assist_session(token)
        assist.mark_started(sb, s)
        return page("GoToAssist expert", f"<p>Session {s.session_id} is {s.status}. Customer link: "
                                         f"{html.escape(assist.customer_join_url(sb, s))}</p>")

    def assist_join(req: Request, token: str) -> Response:
        s = assist_session(token)
        if s.status in ("complete", "abandoned"):
            return page("GoToAssist", "<p>This support session has ended.</p>")
        assist.mark_customer_joined(sb, s)
        return page("GoToAssist", f"<p>You are connected to {html.escape(s.customer_name or 'your expert')}'s "
                                  "support session.</p>")

    def assist_recording(req: Request, sessionId: str) -> Response:
        s = sb.state.assist_sessions.get(sessionId)
        if s is None or not s.recording:
            raise _missing("This recording")
        return page("GoToAssist session replay", f"<p>Replay of session {html.escape(sessionId)}.</p>")

    routes = [
        ("GET", "/gotowebinar/register/{webinarKey:int}", webinar_register_form),
        ("POST", "/gotowebinar/register/{webinarKey:int}", webinar_register_post),
        ("GET", "/gotowebinar/join/{webinarKey:int}/{joinId}", webinar_join),
        ("GET", "/gotowebinar/start/{webinarKey:int}", webinar_start),
        ("GET", "/gototraining/join/{trainingKey:int}/{joinId}", training_join),
        ("GET", "/gototraining/confirmation/{trainingKey:int}/{registrantKey:int}", training_confirmation),
        ("GET", "/gototraining/start/{trainingKey:int}", training_start),
        ("GET", "/gototraining/manage/{trainingKey:int}", training_manage),
        ("GET", "/gototraining/recordings/{recordingId:int}/{action}", training_recording),
        ("GET", "/gotomeeting/join/{meetingId:int}", meeting_join),
        ("GET", "/gotomeeting/start/{meetingId:int}", meeting_start),
        ("GET", "/gotomeeting/recordings/{recordingId}", meeting_recording),
        ("GET", "/gotomeeting/recordings/{recordingId}/{action}", meeting_recording),
        ("GET", "/gotoassist/launch/{token}", assist_launch),
        ("GET", "/gotoassist/join/{token}", assist_join),
        ("GET", "/gotoassist/recordings/{sessionId}", assist_recording),
    ]
    for method, template, handler in routes:
        router.add(method, template, handler, auth=False)
