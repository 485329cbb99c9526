"""GoToTraining REST v1 (``/G2T/rest``) and its reports, following the GoToTrainingV1
OpenAPI document (apisguru-getgo-gototraining-1.0.0-openapi.yaml).

Notable behaviour: create answers 201 with a bare JSON string (the trainingKey);
durations are minutes; report attendees list non-attendees last with
``timeInSession`` 0; a duplicate registration answers 409 ``DuplicateRegistrant`` with
the existing ``registrantKey``; unknown trainings answer ``NoSuchTraining``; the
registrant cache lag is emulated by ``SandboxSettings.g2t_registrant_lag_seconds``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..common import Request, Response, Router, json_response, no_content, redirect
from .base import bad_request, iso_z, json_body, minutes_between, parse_time, product_error
from .state import Organizer, Training, TrainingRegistrant, TrainingSession
from .webinar import EMAIL_RE, _check_tz

if TYPE_CHECKING:
    from .app import GoToSandbox

G2T = "/G2T/rest"


def no_such_training(key: int) -> Exception:
    return product_error(404, "NoSuchTraining", f"Training with key {key} does not exist.")


# ---------------------------------------------------------------------------
# Representations


def organizer_json(o: Organizer) -> dict[str, Any]:
    return {"organizerKey": str(o.organizer_key), "email": o.email, "givenName": o.first_name,
            "surname": o.last_name}


def training_json(sb: GoToSandbox, t: Training) -> dict[str, Any]:
    organizers = [sb.state.organizers[k] for k in t.organizers if k in sb.state.organizers]
    return {
        "trainingKey": str(t.training_key),
        "trainingId": t.training_id,
        "name": t.name,
        "description": t.description,
        "timeZone": t.time_zone,
        "times": [{"startDate": iso_z(s), "endDate": iso_z(e)} for s, e in t.times],
        "organizers": [organizer_json(o) for o in organizers],
        "registrationSettings": {
            "disableWebRegistration": t.disable_web_registration,
            "disableConfirmationEmail": t.disable_confirmation_email,
        },
    }


def join_url(sb: GoToSandbox, r: TrainingRegistrant) -> str:
    return sb.url(f"/gototraining/join/{r.training_key}/{r.join_id}")


def confirmation_url(sb: GoToSandbox, r: TrainingRegistrant) -> str:
    return sb.url(f"/gototraining/confirmation/{r.training_key}/{r.registrant_key}")


def registrant_json(sb: GoToSandbox, r: TrainingRegistrant) -> dict[str, Any]:
    return {
        "registrantKey": str(r.registrant_key),
        "email": r.email,
        "givenName": r.given_name,
        "surname": r.surname,
        "status": r.status,
        "registrationDate": iso_z(r.registration_date),
        "joinUrl": join_url(sb, r),
        "confirmationUrl": confirmation_url(sb, r),
    }


def session_json(sb: GoToSandbox, t: Training, s: TrainingSession) -> dict[str, Any]:
    organizers = [sb.state.organizers[k] for k in t.organizers if k in sb.state.organizers]
    return {
        "sessionKey": str(s.session_key),
        "trainingName": t.name,
        "sessionStartTime": iso_z(s.start),
        "sessionEndTime": iso_z(s.end),
        "attendanceCount": len(s.attendance),
        "duration": minutes_between(s.start, s.end),
        "organizers": [organizer_json(o) for o in organizers],
    }


def report_attendees(t: Training, s: TrainingSession) -> list[dict[str, Any]]:
    out = []
    for rk, intervals in s.attendance.items():
        r = t.registrants.get(rk)
        if r is None:
            continue
        parts = [{"joinTime": iso_z(j), "leaveTime": iso_z(lv), "timeInPartOfSession": minutes_between(j, lv)}
                 for j, lv in intervals]
        out.append({"givenName": r.given_name, "surname": r.surname, "email": r.email,
                    "timeInSession": sum(p["timeInPartOfSession"] for p in parts), "inSessionTimes": parts})
    for rk, r in t.registrants.items():
        if rk not in s.attendance:
            out.append({"givenName": r.given_name, "surname": r.surname, "email": r.email, "timeInSession": 0,
                        "inSessionTimes": []})
    return out


# ---------------------------------------------------------------------------
# Core operations


def _parse_times(raw: Any, now: datetime, *, allow_past: bool) -> list[tuple[datetime, datetime]]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("times must be a non-empty array of {startDate, endDate}.")
    out = []
    for item in raw:
        try:
            start, end = parse_time(item.get("startDate")), parse_time(item.get("endDate"))
        except (ValueError, AttributeError):
            raise bad_request(
                "startDate and endDate must be ISO-8601 date-times such as 2016-03-23T10:00:00Z."
            ) from None
        if end <= start:
            raise bad_request("endDate must be after startDate.")
        if end - start > timedelta(hours=24):
            raise product_error(400, "InvalidTrainingDatesMaxDuration", "A training session lasts at most 24 hours.")
        if not allow_past and start < now:
            raise bad_request("The start date of a training cannot be in the past.")
        out.append((start.replace(microsecond=0), end.replace(microsecond=0)))
    return sorted(out)


def _organizer_keys(sb: GoToSandbox, scheduler: int, account_key: int, raw: list[Any]) -> list[int]:
    """The scheduling organizer followed by the (validated) co-organizer keys."""
    keys = [scheduler]
    for value in raw:
        try:
            key = int(value)
        except (TypeError, ValueError):
            raise bad_request("organizers must be organizer keys.") from None
        other = sb.state.organizers.get(key)
        if other is None or other.account_key != account_key:
            raise bad_request(f"Organizer {key} is not a user of this account.")
        if key not in keys:
            keys.append(key)
    return keys


def create_training(sb: GoToSandbox, organizer: Organizer, data: dict[str, Any], *, allow_past: bool = False
                    ) -> Training:
    now = sb.now()
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name is required.")
    if "timeZone" not in data:
        raise bad_request("timeZone is required.")
    tz = _check_tz(data.get("timeZone"))
    times = _parse_times(data.get("times"), now, allow_past=allow_past)
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise bad_request("description must be a string.")
    co_keys = _organizer_keys(sb, organizer.organizer_key, organizer.account_key, data.get("organizers") or [])
    settings = data.get("registrationSettings") or {}
    training = Training(
        training_key=sb.state.keys.key(),
        training_id=sb.state.keys.digits(9),
        organizer_key=organizer.organizer_key,
        account_key=organizer.account_key,
        name=name.strip(),
        description=description,
        time_zone=tz,
        times=times,
        organizers=co_keys,
        disable_web_registration=bool(settings.get("disableWebRegistration", False)),
        disable_confirmation_email=bool(settings.get("disableConfirmationEmail", False)),
        created_at=now,
    )
    return sb.state.add_training(training)


def register_training(sb: GoToSandbox, t: Training, data: dict[str, Any], *,
                      registration_date: datetime | None = None) -> TrainingRegistrant:
    for name in ("email", "givenName", "surname"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"{name} is required.")
    email = data["email"].strip()
    if not EMAIL_RE.match(email):
        raise bad_request(f"'{email}' is not a valid e-mail address.")
    now = sb.now()
    if t.last_end <= now:
        raise product_error(400, "TrainingOver", "The training is over; registration is closed.")
    existing = t.by_email.get(email.lower())
    if existing is not None:
        raise product_error(409, "DuplicateRegistrant", "Registration failed, email address already in use.",
                            registrantKey=existing)
    lag = sb.settings.g2t_registrant_lag_seconds
    registrant = TrainingRegistrant(
        registrant_key=sb.state.keys.key(),
        training_key=t.training_key,
        email=email,
        given_name=data["givenName"].strip(),
        surname=data["surname"].strip(),
        registration_date=(registration_date or now).replace(microsecond=0),
        visible_from=now + timedelta(seconds=lag) if lag > 0 else None,
    )
    t.registrants[registrant.registrant_key] = registrant
    t.by_email[email.lower()] = registrant.registrant_key
    if not t.disable_confirmation_email:
        sb.record_email("confirmation", email, f"Registration confirmed: {t.name}",
                        trainingKey=t.training_key, registrantKey=registrant.registrant_key)
    return registrant


def drop_planned_sessions(sb: GoToSandbox, t: Training) -> None:
    """Forget sessions planned at seed time that have not ended (times changed / deleted)."""
    now = sb.now()
    for s in [s for s in t.sessions if s.end > now]:
        sb.state.remove_training_session(t, s)


# ---------------------------------------------------------------------------
# Python helpers


def add_training(
    sb: GoToSandbox,
    name: str = "Sandbox training",
    times: list[tuple[datetime, datetime]] | None = None,
    *,
    organizer: Organizer | int | str | None = None,
    description: str = "",
    time_zone: str | None = None,
) -> Training:
    """Create a training as ``POST .../trainings`` would (past times allowed here)."""

    def do() -> Training:
        org = sb.organizer(organizer)
        start = (sb.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        slots = times or [(start, start + timedelta(hours=2))]
        body = {"name": name, "description": description, "timeZone": time_zone or org.time_zone,
                "times": [{"startDate": iso_z(s), "endDate": iso_z(e)} for s, e in slots]}
        return create_training(sb, org, body, allow_past=True)

    return sb.run(do)


def add_training_registrant(
    sb: GoToSandbox, training_key: int, email: str, given_name: str = "Test", surname: str = "Registrant", *,
    registration_date: datetime | None = None,
) -> TrainingRegistrant:
    """Register someone for a training (the registrant lag setting applies)."""

    def do() -> TrainingRegistrant:
        t = sb.state.trainings.get(training_key)
        if t is None or t.deleted_at is not None:
            raise ValueError(f"no training {training_key}")
        if email.lower() in t.by_email:
            raise ValueError(f"{email} is already registered for training {training_key}")
        return register_training(sb, t, {"email": email, "givenName": given_name, "surname": surname},
                                 registration_date=registration_date)

    return sb.run(do)


def simulate_training_session(
    sb: GoToSandbox,
    training_key: int,
    attendees: dict[int | str, list[tuple[datetime, datetime]] | None],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> TrainingSession:
    """Record a training session that took place (visible in reports once ended)."""

    def do() -> TrainingSession:
        t = sb.state.trainings.get(training_key)
        if t is None:
            raise ValueError(f"no training {training_key}")
        s_start, s_end = start, end
        if s_start is None or s_end is None:
            held = {s.start for s in t.sessions if s.attendance}
            slot = next((x for x in t.times if x[0] not in held), t.times[-1])
            s_start, s_end = s_start or slot[0], s_end or slot[1]
        for old in [s for s in t.sessions if s.start == s_start]:
            sb.state.remove_training_session(t, old)
        session = TrainingSession(sb.state.keys.key(), t.training_key, s_start, s_end)
        for ref, intervals in attendees.items():
            rk = t.by_email.get(ref.lower()) if isinstance(ref, str) and not ref.isdigit() else int(ref)
            if rk is None or rk not in t.registrants:
                raise ValueError(f"{ref} is not a registrant of training {training_key}")
            session.attendance[rk] = sorted((j.replace(microsecond=0), lv.replace(microsecond=0))
                                            for j, lv in (intervals or [(s_start, s_end)]))
        return sb.state.add_training_session(t, session)

    return sb.run(do)


# ---------------------------------------------------------------------------
# HTTP API


def register(sb: GoToSandbox, router: Router) -> None:
    def training_of(req: Request, organizerKey: int, trainingKey: int) -> Training:
        sb.path_organizer(req, organizerKey)
        t = sb.state.trainings.get(trainingKey)
        if t is None or t.deleted_at is not None or organizerKey not in t.organizers:
            raise no_such_training(trainingKey)
        return t

    def training_in_account(req: Request, trainingKey: int) -> Training:
        t = sb.state.trainings.get(trainingKey)
        if t is None or t.deleted_at is not None or t.account_key != req.context["user"].account_key:
            raise no_such_training(trainingKey)
        return t

    def visible(r: TrainingRegistrant) -> bool:
        return r.visible_from is None or r.visible_from <= sb.now()

    def account_organizers(req: Request, accountKey: int) -> Response:
        sb.path_account(req, accountKey)
        return json_response([organizer_json(o) for o in sb.state.organizers_of(accountKey)])

    def list_trainings(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        now = sb.now()
        out = []
        for key in sb.state.trainings_by_organizer.get(organizerKey, []):
            t = sb.state.trainings[key]
            if t.deleted_at is None and t.last_end > now:
                out.append(training_json(sb, t))
        return json_response(out)

    def create(req: Request, organizerKey: int) -> Response:
        organizer = sb.path_organizer(req, organizerKey)
        training = create_training(sb, organizer, json_body(req, dict))
        return json_response(str(training.training_key), 201)

    def get(req: Request, organizerKey: int, trainingKey: int) -> Response:
        return json_response(training_json(sb, training_of(req, organizerKey, trainingKey)))

    def delete(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        t.deleted_at = sb.now()
        drop_planned_sessions(sb, t)
        return no_content(204)

    def name_description(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        data = json_body(req, dict)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required.")
        t.name = name.strip()
        if "description" in data:
            t.description = str(data["description"] or "")
        return no_content(204)

    def update_times(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        data = json_body(req, dict)
        if "timeZone" not in data:
            raise bad_request("timeZone is required.")
        tz = _check_tz(data["timeZone"])
        times = _parse_times(data.get("times"), sb.now(), allow_past=False)
        drop_planned_sessions(sb, t)
        t.time_zone, t.times = tz, times
        registrants = len(t.registrants) if data.get("notifyRegistrants", True) else 0
        trainers = len(t.organizers) if data.get("notifyTrainers", True) else 0
        return json_response({"notifiedRegistrants": registrants, "notifiedTrainers": trainers})

    def get_organizers(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        return json_response([organizer_json(sb.state.organizers[k]) for k in t.organizers
                              if k in sb.state.organizers])

    def put_organizers(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        data = json_body(req, dict)
        raw = data.get("organizers")
        if not isinstance(raw, list):
            raise bad_request("organizers is required.")
        t.organizers = _organizer_keys(sb, t.organizer_key, t.account_key, raw)
        return no_content(204)

    def registration_settings(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        data = json_body(req, dict)
        for name in ("disableWebRegistration", "disableConfirmationEmail"):
            if not isinstance(data.get(name), bool):
                raise bad_request(f"{name} is required (true or false).")
        t.disable_web_registration = data["disableWebRegistration"]
        t.disable_confirmation_email = data["disableConfirmationEmail"]
        return no_content(204)

    def manage_url(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        return json_response(sb.url(f"/gototraining/manage/{t.training_key}"))

    def start_url(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        return json_response(sb.url(f"/gototraining/start/{t.training_key}"))

    def start(req: Request, trainingKey: int) -> Response:
        t = training_in_account(req, trainingKey)
        return json_response({"hostURL": sb.url(f"/gototraining/start/{t.training_key}?host=1")})

    def create_registrant(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        r = register_training(sb, t, json_body(req, dict))
        return json_response({"joinUrl": join_url(sb, r), "confirmationUrl": confirmation_url(sb, r),
                              "registrantKey": str(r.registrant_key)}, 201)

    def list_registrants(req: Request, organizerKey: int, trainingKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        return json_response([registrant_json(sb, r) for r in t.registrants.values() if visible(r)])

    def registrant_of(t: Training, registrantKey: int) -> TrainingRegistrant:
        r = t.registrants.get(registrantKey)
        if r is None or not visible(r):
            raise product_error(404, "NotFound", f"Registrant with key {registrantKey} does not exist.")
        return r

    def get_registrant(req: Request, organizerKey: int, trainingKey: int, registrantKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        return json_response(registrant_json(sb, registrant_of(t, registrantKey)))

    def delete_registrant(req: Request, organizerKey: int, trainingKey: int, registrantKey: int) -> Response:
        t = training_of(req, organizerKey, trainingKey)
        r = t.registrants.get(registrantKey)
        if r is None:
            raise product_error(404, "NotFound", f"Registrant with key {registrantKey} does not exist.")
        del t.registrants[registrantKey]
        t.by_email.pop(r.email.lower(), None)
        return no_content(204)

    def recordings(req: Request, trainingKey: int) -> Response:
        t = training_in_account(req, trainingKey)
        items = [
            {
                "recordingId": rec.recording_id,
                "name": rec.name,
                "description": rec.description,
                "registrationUrl": sb.url(f"/gototraining/recordings/{rec.recording_id}/register"),
                "downloadUrl": sb.url(f"/gototraining/recordings/{rec.recording_id}/download"),
                "startDate": iso_z(rec.start),
                "endDate": iso_z(rec.end),
            }
            for rec in t.recordings
        ]
        return json_response({"trainingKey": t.training_key, "recordingList": items})

    def recording_download(req: Request, trainingKey: int, recordingId: int) -> Response:
        t = training_in_account(req, trainingKey)
        if not any(rec.recording_id == recordingId for rec in t.recordings):
            raise product_error(404, "NotFound", f"Recording {recordingId} does not exist.")
        return redirect(sb.url(f"/gototraining/recordings/{recordingId}/download"), 302)

    def report_sessions(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        data = json_body(req, dict)
        try:
            start, end = parse_time(data.get("startDate")), parse_time(data.get("endDate"))
        except ValueError:
            raise bad_request("startDate and endDate are required ISO-8601 date-times.") from None
        now = sb.now()
        index = sb.state.training_sessions_by_organizer.get(organizerKey)
        out = []
        if index is not None:
            lo, hi = index.bounds(start, min(end, now))
            for _, key in index.items[lo:hi]:
                s = sb.state.training_sessions[key]
                if s.end <= now:
                    out.append(session_json(sb, sb.state.trainings[s.training_key], s))
        return json_response(out)

    def report_training(req: Request, organizerKey: int, trainingKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        t = sb.state.trainings.get(trainingKey)
        if t is None or organizerKey not in t.organizers:
            raise no_such_training(trainingKey)
        now = sb.now()
        return json_response([session_json(sb, t, s) for s in t.sessions if s.end <= now])

    def report_attendees_route(req: Request, organizerKey: int, sessionKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        s = sb.state.training_sessions.get(sessionKey)
        t = sb.state.trainings.get(s.training_key) if s else None
        if s is None or t is None or organizerKey not in t.organizers or s.end > sb.now():
            raise product_error(404, "NotFound", f"Session with key {sessionKey} does not exist.")
        return json_response(report_attendees(t, s))

    ok = f"{G2T}/organizers/{{organizerKey:int}}"
    tk = f"{ok}/trainings/{{trainingKey:int}}"
    rep = f"{G2T}/reports/organizers/{{organizerKey:int}}"
    routes = [
        ("GET", f"{G2T}/accounts/{{accountKey:int}}/organizers", account_organizers),
        ("GET", f"{ok}/trainings", list_trainings),
        ("POST", f"{ok}/trainings", create),
        ("GET", tk, get),
        ("DELETE", tk, delete),
        ("PUT", f"{tk}/nameDescription", name_description),
        ("PUT", f"{tk}/times", update_times),
        ("GET", f"{tk}/organizers", get_organizers),
        ("PUT", f"{tk}/organizers", put_organizers),
        ("PUT", f"{tk}/registrationSettings", registration_settings),
        ("GET", f"{tk}/manageUrl", manage_url),
        ("GET", f"{tk}/startUrl", start_url),
        ("GET", f"{G2T}/trainings/{{trainingKey:int}}/start", start),
        ("POST", f"{tk}/registrants", create_registrant),
        ("GET", f"{tk}/registrants", list_registrants),
        ("GET", f"{tk}/registrants/{{registrantKey:int}}", get_registrant),
        ("DELETE", f"{tk}/registrants/{{registrantKey:int}}", delete_registrant),
        ("GET", f"{G2T}/trainings/{{trainingKey:int}}/recordings", recordings),
        ("GET", f"{G2T}/trainings/{{trainingKey:int}}/recordings/{{recordingId:int}}", recording_download),
        ("POST", f"{rep}/sessions", report_sessions),
        ("GET", f"{rep}/trainings/{{trainingKey:int}}", report_training),
        ("GET", f"{rep}/sessions/{{sessionKey:int}}/attendees", report_attendees_route),
    ]
    for method, template, handler in routes:
        router.add(method, template, handler)
