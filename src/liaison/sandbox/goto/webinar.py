"""GoToWebinar REST v2 (``/G2W/rest/v2``), following goto-webinar-v2-openapi.original.yml.

Key types follow the schemas: ``Webinar`` list items, ``ReportingSession`` and
``CreatedWebinar`` carry keys as strings; ``WebinarByKey``, ``Registrant``,
``RegistrantCreated``, ``Attendee`` and ``Session`` carry them as int64 JSON numbers.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..common import Request, Response, Router, json_response, no_content
from .base import (
    bad_request,
    bool_arg,
    epoch_ms,
    forbidden,
    int_arg,
    iso_z,
    json_body,
    not_found,
    optional_time_arg,
    page_window,
    parse_time,
    product_error,
    required_time_arg,
)
from .state import (
    Organizer,
    Registrant,
    RegistrationQuestion,
    SortedIndex,
    Webinar,
    WebinarSession,
)

if TYPE_CHECKING:
    from .app import GoToSandbox

G2W = "/G2W/rest/v2"
LOCALES = ("en_US", "de_DE", "es_ES", "fr_FR", "it_IT", "zh_CN")
TYPES = ("single_session", "series", "sequence")
EXPERIENCES = ("CLASSIC", "BROADCAST", "SIMULIVE")
MAX_PAGE = 200
DEFAULT_PAGE = 20
BASIC_ACCEPT = "g2wapi-v1.1+json"  # application/vnd.citrix.g2wapi-v1.1+json
STANDARD_FIELDS = (
    "firstName", "lastName", "email", "source", "address", "city", "state", "zipCode", "country", "phone",
    "organization", "jobTitle", "questionsAndComments", "industry", "numberOfEmployees", "purchasingTimeFrame",
    "purchasingRole",
)
FIELD_CHOICES = {
    "industry": ["Software", "Education", "Finance", "Healthcare", "Manufacturing", "Retail", "Public sector"],
    "numberOfEmployees": ["1-20", "21-50", "51-100", "101-500", "501-1000", "1001+"],
    "purchasingTimeFrame": ["Within a month", "1-3 months", "4-6 months", "More than 6 months", "No timeframe"],
    "purchasingRole": ["Decision maker", "Evaluator/Recommender", "Influencer", "Not involved"],
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SESSION_VISIBILITY_SLACK = timedelta(days=1)  # longest session the organizer-sessions tail scan expects


# ---------------------------------------------------------------------------
# Representations


def _times(times: Iterable[tuple[datetime, datetime]]) -> list[dict[str, str]]:
    return [{"startTime": iso_z(s), "endTime": iso_z(e)} for s, e in times]


def registration_url(sb: GoToSandbox, w: Webinar) -> str:
    return sb.url(f"/gotowebinar/register/{w.webinar_key}")


def join_url(sb: GoToSandbox, r: Registrant) -> str:
    return sb.url(f"/gotowebinar/join/{r.webinar_key}/{r.join_id}")


def webinar_item(sb: GoToSandbox, w: Webinar) -> dict[str, Any]:
    """``Webinar`` (list item): keys as strings. ``webinarID`` is the documented property;
    the schema's required list spells it ``webinarId``, so both are sent."""
    return {
        "webinarKey": str(w.webinar_key),
        "webinarID": w.webinar_id,
        "webinarId": w.webinar_id,
        "organizerKey": str(w.organizer_key),
        "accountKey": str(w.account_key),
        "subject": w.subject,
        "description": w.description,
        "times": _times(w.times),
        "timeZone": w.time_zone,
        "locale": w.locale,
        "approvalType": w.approval_type,
        "registrationUrl": registration_url(sb, w),
        "impromptu": w.impromptu,
        "isPasswordProtected": w.is_password_protected,
        "recurrenceType": w.type,
        "experienceType": w.experience_type.lower(),
    }


def webinar_by_key(sb: GoToSandbox, w: Webinar) -> dict[str, Any]:
    organizer = sb.state.organizers[w.organizer_key]
    now = sb.now()
    times = w.times
    if w.type == "sequence":
        future = [t for t in w.times if t[1] > now]
        times = future or w.times
    return {
        "webinarKey": w.webinar_key,
        "webinarID": w.webinar_id,
        "subject": w.subject,
        "description": w.description,
        "organizerKey": w.organizer_key,
        "organizerEmail": organizer.email,
        "organizerName": organizer.name,
        "times": _times(times),
        "registrationUrl": registration_url(sb, w),
        "inSession": w.in_session(now),
        "impromptu": w.impromptu,
        "type": w.type,
        "timeZone": w.time_zone,
        "numberOfRegistrants": len(w.registrants),
        "registrationLimit": w.registration_limit,
        "locale": w.locale,
        "accountKey": str(w.account_key),
        "recurrencePeriod": w.recurrence_period,
        "experienceType": w.experience_type.lower(),
        "isPasswordProtected": w.is_password_protected,
    }


def registrant_json(sb: GoToSandbox, r: Registrant) -> dict[str, Any]:
    return {
        "lastName": r.last_name,
        "email": r.email,
        "firstName": r.first_name,
        "registrantKey": r.registrant_key,
        "registrationDate": iso_z(r.registration_date),
        "status": r.status,
        "joinUrl": join_url(sb, r),
        "timeZone": r.time_zone,
    }


def registrant_detailed(sb: GoToSandbox, w: Webinar, r: Registrant) -> dict[str, Any]:
    data = registrant_json(sb, r)
    details = r.details or {}
    data["source"] = r.source
    for name in ("phone", "state", "city", "organization", "zipCode", "numberOfEmployees", "industry", "jobTitle",
                 "purchasingRole", "purchasingTimeFrame", "questionsAndComments", "country", "address"):
        if name in details:
            data[name] = details[name]
    if w.type != "series":
        data["type"] = "LATE" if r.registration_date >= w.first_start else "REGULAR"
    data["unsubscribed"] = r.unsubscribed
    data["responses"] = [dict(x) for x in (r.responses or [])]
    return data


def attendee_json(w: Webinar, session: WebinarSession, rk: int, intervals: list[tuple[datetime, datetime]]
                  ) -> dict[str, Any]:
    r = w.registrants.get(rk)
    return {
        "registrantKey": rk,
        "firstName": r.first_name if r else "",
        "lastName": r.last_name if r else "",
        "email": r.email if r else "",
        "attendanceTimeInSeconds": int(sum((leave - join).total_seconds() for join, leave in intervals)),
        "sessionKey": session.session_key,
        "attendance": [{"joinTime": iso_z(j), "leaveTime": iso_z(lv)} for j, lv in intervals],
    }


def reporting_session(sb: GoToSandbox, w: Webinar, s: WebinarSession) -> dict[str, Any]:
    creator = sb.state.organizers[w.organizer_key]
    starter = sb.state.organizers.get(s.starting_organizer_key, creator)
    follow_up = w.email_settings.get("attendeeFollowUpEmail") or {}
    return {
        "sessionKey": str(s.session_key),
        "webinarKey": str(w.webinar_key),
        "webinarName": w.subject,
        "startTime": iso_z(s.start),
        "endTime": iso_z(s.end),
        "registrantsAttended": len(s.attendance),
        "registrantCount": len(w.registrants),
        "accountKey": str(w.account_key),
        "creatingOrganizerKey": str(creator.organizer_key),
        "creatingOrganizerName": creator.name,
        "startingOrganizerKey": str(starter.organizer_key),
        "startingOrganizerName": starter.name,
        "totalPollCount": sum(1 for p in s.polls if not p.survey),
        "timeZone": w.time_zone,
        "experienceType": w.experience_type.lower(),
        "webinarID": w.webinar_id,
        "numRegLinkClicks": s.reg_link_clicks,
        "numOpenedInvitations": s.opened_invitations,
        "includeCertificate": bool(follow_up.get("includeCertificate", False)),
        "followupEmailTriggered": bool(follow_up.get("enabled", False)),
    }


def session_performance(w: Webinar, s: WebinarSession) -> dict[str, Any]:
    attended = len(s.attendance)
    registered = len(w.registrants)
    total_seconds = sum(
        sum((leave - join).total_seconds() for join, leave in intervals) for intervals in s.attendance.values()
    )
    rng = random.Random(s.session_key)
    polls = [p for p in s.polls if not p.survey]
    surveys = [p for p in s.polls if p.survey]
    return {
        "sessionInfo": {
            "webinarName": w.subject,
            "webinarId": w.webinar_id,
            "sessionKey": str(s.session_key),
            "timeZone": w.time_zone,
            "experienceType": w.experience_type,
            "recurrencePeriod": w.recurrence_period,
            "startTime": iso_z(s.start),
            "endTime": iso_z(s.end),
            "registrationEmailOpenedCount": str(s.opened_invitations),
            "registrationLinkClickedCount": str(s.reg_link_clicks),
        },
        "attendance": {
            "registrantCount": registered,
            "percentageAttendance": round(100.0 * attended / registered, 2) if registered else 0.0,
            "averageInterestRating": round(50 + 40 * rng.random(), 2) if attended else 0.0,
            "averageAttentiveness": round(60 + 35 * rng.random(), 2) if attended else 0.0,
            "averageAttendanceTimeSeconds": round(total_seconds / attended, 2) if attended else 0.0,
        },
        "pollsAndSurveys": {
            "pollCount": len(polls),
            "surveyCount": float(len(surveys)),
            "questionsAsked": len(s.questions),
            "percentagePollsCompleted": round(60 + 30 * rng.random(), 2) if polls and attended else 0.0,
            "percentageSurveysCompleted": round(30 + 40 * rng.random(), 2) if surveys and attended else 0.0,
        },
    }


def poll_json(p: Any) -> dict[str, Any]:
    total = sum(p.weights)
    return {
        "question": p.question,
        "numberOfResponses": total,
        "responses": [
            {"text": text, "percentage": round(100.0 * weight / total, 2) if total else 0.0}
            for text, weight in zip(p.options, p.weights, strict=True)
        ],
    }


def attendee_answers(s: WebinarSession, rk: int, survey: bool) -> list[dict[str, Any]]:
    """Deterministic per-attendee answers to the session's polls (or surveys)."""
    out = []
    for index, poll in enumerate(p for p in s.polls if p.survey == survey):
        rng = random.Random((s.session_key ^ rk) + index)
        if rng.random() < 0.75:
            answer = rng.choices(poll.options, weights=poll.weights)[0]
            out.append({"question": poll.question, "answers": [answer]})
    return out


def question_json(sb: GoToSandbox, w: Webinar, q: Any) -> dict[str, Any]:
    r = w.registrants.get(q.registrant_key)
    return {
        "question": q.question,
        "askedBy": r.email if r else "",
        "askerKey": str(q.registrant_key),
        "dateAsked": iso_z(q.asked_at),
        "answers": [
            {
                "answer": q.answer,
                "answeredBy": q.answered_by,
                "answererRole": "ORGANIZER",
                "answerTime": iso_z(q.answered_at),
                "answererEmail": q.answerer_email,
            }
        ],
    }


# ---------------------------------------------------------------------------
# Webhook payloads


def webinar_event(sb: GoToSandbox, w: Webinar, status: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "accountKey": w.account_key,
        "organizerKey": w.organizer_key,
        "webinarKey": w.webinar_key,
        "webinarTitle": w.subject,
        "description": w.description,
        "experienceType": w.experience_type,
        "recurrenceType": w.type,
        "webinarCreationDate": iso_z(w.created_at),
        "status": status,
        "times": _times(w.times),
        "timeZone": w.time_zone,
    }
    if w.recurrence_key is not None:
        data["recurrenceKey"] = w.recurrence_key
    return data


def registrant_added_event(sb: GoToSandbox, w: Webinar, r: Registrant) -> dict[str, Any]:
    details = r.details or {}
    data: dict[str, Any] = {
        "registrantKey": r.registrant_key,
        "webinarKey": w.webinar_key,
        "webinarTitle": w.subject,
        "experienceType": w.experience_type,
        "recurrenceType": w.type,
        "webinarCreatorKey": w.organizer_key,
        "firstName": r.first_name,
        "lastName": r.last_name,
        "email": r.email,
        "registrationDate": iso_z(r.registration_date),
        "status": r.status.capitalize(),
        "registrationSource": r.source,
        "responses": [dict(x) for x in (r.responses or [])],
    }
    for name in ("phone", "address", "city", "state", "country", "zipCode", "organization", "jobTitle", "industry",
                 "numberOfEmployees", "purchasingRole", "purchasingTimeFrame"):
        data[name] = details.get(name, "")
    data["comments"] = details.get("questionsAndComments", "")
    if r.status == "APPROVED":
        data["joinUrl"] = join_url(sb, r)
    return data


def registrant_joined_event(sb: GoToSandbox, w: Webinar, s: WebinarSession, r: Registrant, joined: datetime
                            ) -> dict[str, Any]:
    return {
        "webinarKey": w.webinar_key,
        "sessionKey": s.session_key,
        "registrantKey": r.registrant_key,
        "firstName": r.first_name,
        "lastName": r.last_name,
        "email": r.email,
        "webinarTitle": w.subject,
        "experienceType": w.experience_type,
        "recurrenceType": w.type,
        "webinarCreatorKey": w.organizer_key,
        "joinTime": epoch_ms(joined),
    }


# ---------------------------------------------------------------------------
# Core operations (shared by the HTTP API and the Python helpers)


def _check_tz(tz: Any) -> str:
    if not isinstance(tz, str) or not tz:
        raise bad_request("timeZone must be an IANA time-zone id such as Europe/Paris.")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"Unknown timeZone '{tz}'.") from None
    return tz


def parse_times(raw: Any, now: datetime, *, allow_past: bool = False) -> list[tuple[datetime, datetime]]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("times must be a non-empty array of {startTime, endTime}.")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("Each element of times must be an object with startTime and endTime.")
        try:
            start, end = parse_time(item.get("startTime")), parse_time(item.get("endTime"))
        except ValueError:
            raise bad_request(
                "startTime and endTime must be ISO-8601 date-times such as 2020-03-13T10:00:00Z."
            ) from None
        if end <= start:
            raise bad_request("endTime must be after startTime.")
        if not allow_past and start < now:
            raise bad_request("The start time of a webinar cannot be in the past.")
        out.append((start.replace(microsecond=0), end.replace(microsecond=0)))
    return sorted(out)


def _expand_sequence(data: dict[str, Any], now: datetime) -> list[tuple[datetime, datetime]]:
    first = parse_times([data.get("recurrenceStart")], now)[0]
    pattern = data.get("recurrencePattern")
    if pattern not in ("daily", "weekly", "monthly"):
        raise bad_request("recurrencePattern must be daily, weekly or monthly.")
    try:
        last_day = parse_time(data.get("recurrenceEnd")).date()
    except ValueError:
        raise bad_request("recurrenceEnd must be a date such as 2016-12-01.") from None
    duration = first[1] - first[0]
    times = []
    start = first[0]
    month = 0
    while start.date() <= last_day and len(times) < 100:
        times.append((start, start + duration))
        if pattern == "daily":
            start = start + timedelta(days=1)
        elif pattern == "weekly":
            start = start + timedelta(days=7)
        else:
            month += 1
            y, m = divmod(first[0].month - 1 + month, 12)
            try:
                start = first[0].replace(year=first[0].year + y, month=m + 1)
            except ValueError:  # no such day in that month
                continue
    if len(times) < 1:
        raise bad_request("recurrenceEnd is before the first session.")
    return times


def create_webinars(sb: GoToSandbox, organizer: Organizer, data: dict[str, Any], *, allow_past: bool = False
                    ) -> list[Webinar]:
    """Validate a WebinarReqCreate body and create the webinar(s); fires webinar.created."""
    now = sb.now()
    subject = data.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        raise bad_request("subject is required.")
    if len(subject) > 128:
        raise bad_request("subject must not be longer than 128 characters.")
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 2048:
        raise bad_request("description must be a string of at most 2048 characters.")
    kind = data.get("type") or "single_session"
    if kind not in TYPES:
        raise bad_request(f"type must be one of {', '.join(TYPES)}.")
    if kind == "sequence" and data.get("recurrenceStart") is not None:
        times = _expand_sequence(data, now)
    else:
        times = parse_times(data.get("times"), now, allow_past=allow_past)
    if kind == "single_session" and len(times) != 1:
        raise bad_request("A single_session webinar takes exactly one element in times.")
    tz = _check_tz(data.get("timeZone") or organizer.time_zone)
    locale = data.get("locale") or organizer.locale
    if locale not in LOCALES:
        raise bad_request(f"locale must be one of {', '.join(LOCALES)}.")
    experience = str(data.get("experienceType") or "CLASSIC").upper()
    if experience not in EXPERIENCES:
        raise bad_request(f"experienceType must be one of {', '.join(EXPERIENCES)}.")
    if experience == "SIMULIVE" and not data.get("recordingAssetKey"):
        raise bad_request("A SIMULIVE webinar needs a recordingAssetKey.")
    email_settings = _email_settings(data.get("emailSettings"))
    members = [[t] for t in times] if kind == "series" else [times]
    recurrence_key = sb.state.keys.key() if kind == "series" else None
    created = []
    for member_times in members:
        w = Webinar(
            webinar_key=sb.state.keys.key(),
            webinar_id=sb.state.keys.digits(9),
            organizer_key=organizer.organizer_key,
            account_key=organizer.account_key,
            subject=subject.strip(),
            description=description,
            times=member_times,
            time_zone=tz,
            locale=locale,
            type=kind,
            recurrence_key=recurrence_key,
            recurrence_period=_period(member_times) if kind == "sequence" else "never",
            experience_type=experience,
            approval_type=str(data.get("approvalType") or "AUTOMATIC").upper(),
            is_password_protected=bool(data.get("isPasswordProtected", False)),
            is_ondemand=bool(data.get("isOndemand", False)),
            is_breakout=bool(data.get("isBreakout", False)),
            created_at=now,
            email_settings=email_settings,
        )
        sb.state.add_webinar(w)
        created.append(w)
        sb.webhooks.emit("webinar.created", w.organizer_key, webinar_event(sb, w, "NEW"))
    return created


def _period(times: list[tuple[datetime, datetime]]) -> str:
    if len(times) < 2:
        return "never"
    gap = (times[1][0] - times[0][0]).days
    return "daily" if gap == 1 else "weekly" if gap == 7 else "monthly" if 28 <= gap <= 31 else "never"


def _email_settings(raw: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = {
        "confirmationEmail": {"enabled": True},
        "reminderEmail": {"enabled": True},
        "absenteeFollowUpEmail": {"enabled": True},
        "attendeeFollowUpEmail": {"enabled": True, "includeCertificate": False},
    }
    if base:
        settings.update({k: dict(v) for k, v in base.items()})
    if raw is None:
        return settings
    if not isinstance(raw, dict):
        raise bad_request("emailSettings must be an object.")
    for key, value in raw.items():
        if key not in settings or not isinstance(value, dict):
            raise bad_request(f"Unknown or invalid email setting '{key}'.")
        settings[key].update({k: bool(v) for k, v in value.items()})
    return settings


def drop_planned_sessions(sb: GoToSandbox, w: Webinar) -> None:
    """Forget sessions planned at seed time that have not ended (times changed / cancelled)."""
    now = sb.now()
    for s in [s for s in w.sessions if s.end > now]:
        sb.state.remove_session(w, s)


def register_registrant(sb: GoToSandbox, w: Webinar, data: dict[str, Any], *, basic: bool, resend: bool,
             registration_date: datetime | None = None, status: str | None = None) -> tuple[Registrant, bool]:
    """Create a registrant from a RegistrantFields body. Returns ``(registrant, created)``."""
    first = data.get("firstName")
    last = data.get("lastName")
    email = data.get("email")
    for name, value in (("firstName", first), ("lastName", last), ("email", email)):
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"{name} is required.")
        if len(value) > 128:
            raise bad_request(f"{name} must not be longer than 128 characters.")
    email = email.strip()
    if not EMAIL_RE.match(email):
        raise bad_request(f"'{email}' is not a valid e-mail address.")
    existing = w.by_email.get(email.lower())
    if existing is not None:
        registrant = w.registrants[existing]
        if resend:
            _confirmation(sb, w, registrant, resent=True)
            return registrant, False
        raise product_error(409, "DuplicateRegistrant", "The user is already registered.")
    details: dict[str, str] = {}
    responses: list[dict[str, str]] = []
    source = ""
    if not basic:
        for field in STANDARD_FIELDS[3:]:
            value = data.get(field)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or len(value) > 128:
                raise bad_request(f"{field} must be a string of at most 128 characters.")
            if field in FIELD_CHOICES and value not in FIELD_CHOICES[field]:
                raise bad_request(f"{field} must be one of: {', '.join(FIELD_CHOICES[field])}.")
            if field == "source":
                source = value
            else:
                details[field] = value
        for spec in w.fields:
            if spec.get("required") and not details.get(spec["field"]):
                raise bad_request(f"The registration field '{spec['field']}' is required for this webinar.")
        responses = _responses(w.questions, data.get("responses"))
    registrant = Registrant(
        registrant_key=sb.state.keys.key(),
        webinar_key=w.webinar_key,
        first_name=first.strip(),
        last_name=last.strip(),
        email=email,
        registration_date=(registration_date or sb.now()).replace(microsecond=0),
        status=status or ("WAITING" if w.approval_type == "MANUAL" else "APPROVED"),
        time_zone=w.time_zone,
        source=source,
        details=details or None,
        responses=responses or None,
    )
    w.add_registrant(registrant)
    _confirmation(sb, w, registrant, resent=False)
    sb.webhooks.emit("registrant.added", w.organizer_key, registrant_added_event(sb, w, registrant))
    return registrant, True


def _confirmation(sb: GoToSandbox, w: Webinar, r: Registrant, *, resent: bool) -> None:
    if (w.email_settings.get("confirmationEmail") or {}).get("enabled", True):
        sb.record_email("confirmation", r.email, f"Registration confirmed: {w.subject}",
                        webinarKey=w.webinar_key, registrantKey=r.registrant_key, resent=resent)


def _responses(questions: list[RegistrationQuestion], raw: Any) -> list[dict[str, str]]:
    given: dict[int, dict[str, Any]] = {}
    if raw is not None:
        if not isinstance(raw, list):
            raise bad_request("responses must be an array.")
        for item in raw:
            if not isinstance(item, dict) or "questionKey" not in item:
                raise bad_request("Each response needs a questionKey.")
            try:
                given[int(item["questionKey"])] = item
            except (TypeError, ValueError):
                raise bad_request("questionKey must be an integer.") from None
    by_key = {q.question_key: q for q in questions}
    unknown = set(given) - set(by_key)
    if unknown:
        raise bad_request(f"Unknown questionKey {sorted(unknown)[0]}.")
    out = []
    for q in questions:
        item = given.get(q.question_key)
        if item is None:
            if q.required:
                raise bad_request(f"The question '{q.question}' (questionKey {q.question_key}) is required.")
            continue
        if q.type == "multipleChoice":
            try:
                answer_key = int(item.get("answerKey"))
            except (TypeError, ValueError):
                raise bad_request(f"Question {q.question_key} is multiple choice: send an answerKey.") from None
            answers = dict(q.answers)
            if answer_key not in answers:
                raise bad_request(f"answerKey {answer_key} is not a choice of question {q.question_key}.")
            out.append({"question": q.question, "answer": answers[answer_key]})
        else:
            text = item.get("responseText")
            if not isinstance(text, str) or not text.strip():
                if q.required:
                    raise bad_request(f"The question '{q.question}' needs a responseText.")
                continue
            if len(text) > q.max_size:
                raise bad_request(f"The answer to question {q.question_key} exceeds {q.max_size} characters.")
            out.append({"question": q.question, "answer": text})
    return out


def cancel(sb: GoToSandbox, w: Webinar, *, notify: bool) -> None:
    now = sb.now()
    sb.state.cancel_webinar(w, now)
    drop_planned_sessions(sb, w)
    if notify:
        for r in w.registrants.values():
            sb.record_email("cancellation", r.email, f"Cancelled: {w.subject}", webinarKey=w.webinar_key)
    sb.webhooks.emit("webinar.changed", w.organizer_key, webinar_event(sb, w, "DELETED"))


def record_join(sb: GoToSandbox, w: Webinar, s: WebinarSession, r: Registrant, join: datetime, leave: datetime
                ) -> None:
    intervals = s.attendance.setdefault(r.registrant_key, [])
    first_join = not intervals
    intervals.append((join.replace(microsecond=0), leave.replace(microsecond=0)))
    intervals.sort()
    if first_join:
        sb.webhooks.emit("registrant.joined", w.organizer_key, registrant_joined_event(sb, w, s, r, join))


# ---------------------------------------------------------------------------
# Python helpers (bound as GoToSandbox methods)


def add_webinar(
    sb: GoToSandbox,
    subject: str = "Sandbox webinar",
    times: list[tuple[datetime, datetime]] | None = None,
    *,
    organizer: Organizer | int | str | None = None,
    type: str = "single_session",  # noqa: A002 - GoTo's field name
    description: str = "",
    time_zone: str | None = None,
    approval_type: str = "AUTOMATIC",
    questions: list[dict[str, Any]] | None = None,
    fields: list[dict[str, Any]] | None = None,
    allow_past: bool = True,
) -> list[Webinar]:
    """Create webinar(s) as ``POST .../webinars`` would (a series gives one per time).

    ``times`` defaults to one hour tomorrow; past times are allowed here (unlike the API)
    so tests can build history. ``questions``: ``[{"question", "type", "required",
    "answers": [...]}]``; ``fields``: ``[{"field": "organization", "required": True}]``.
    """

    def do() -> list[Webinar]:
        org = sb.organizer(organizer)
        now = sb.now()
        start = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        slots = times or [(start, start + timedelta(hours=1))]
        body = {
            "subject": subject,
            "description": description,
            "type": type,
            "timeZone": time_zone or org.time_zone,
            "times": [{"startTime": iso_z(s), "endTime": iso_z(e)} for s, e in slots],
            "approvalType": approval_type,
        }
        created = create_webinars(sb, org, body, allow_past=allow_past)
        for w in created:
            for spec in questions or []:
                answers = [(sb.state.keys.key(), a) for a in spec.get("answers", [])]
                w.questions.append(RegistrationQuestion(
                    sb.state.keys.key(), spec["question"], spec.get("type", "multipleChoice" if answers
                                                                      else "shortAnswer"),
                    bool(spec.get("required", False)), int(spec.get("maxSize", 128)), answers))
            w.fields = [dict(f) for f in fields or []]
        return created

    return sb.run(do)


def add_registrant(
    sb: GoToSandbox,
    webinar_key: int,
    email: str,
    first_name: str = "Test",
    last_name: str = "Registrant",
    *,
    registration_date: datetime | None = None,
    status: str | None = None,
    **fields: Any,
) -> Registrant:
    """Register someone as the API does (full field set, fires ``registrant.added``).

    Raises ``ValueError`` if the webinar is unknown or the e-mail already registered.
    """

    def do() -> Registrant:
        w = sb.state.live_webinar(webinar_key)
        if w is None:
            raise ValueError(f"no webinar {webinar_key}")
        if email.lower() in w.by_email:
            raise ValueError(f"{email} is already registered for webinar {webinar_key}")
        data = {"firstName": first_name, "lastName": last_name, "email": email, **fields}
        registrant, _ = register_registrant(sb, w, data, basic=False, resend=False, registration_date=registration_date,
                                 status=status)
        return registrant

    return sb.run(do)


def simulate_session(
    sb: GoToSandbox,
    webinar_key: int,
    attendees: dict[int | str, list[tuple[datetime, datetime]] | None],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> WebinarSession:
    """Record that a session took place with these attendees.

    ``attendees`` maps a registrantKey or e-mail to its join/leave intervals (``None``:
    the whole session). ``start``/``end`` default to the webinar's first time slot without
    an ended session. A session planned at seed time for that slot is replaced. Fires
    ``registrant.joined`` for each attendee. The session is visible through the API once
    the clock has passed its end.
    """

    def do() -> WebinarSession:
        w = sb.state.webinars.get(webinar_key)
        if w is None:
            raise ValueError(f"no webinar {webinar_key}")
        s_start, s_end = start, end
        if s_start is None or s_end is None:
            held = {s.start for s in w.sessions if s.attendance}
            slot = next((t for t in w.times if t[0] not in held), w.times[-1])
            s_start, s_end = s_start or slot[0], s_end or slot[1]
        for old in [s for s in w.sessions if s.start == s_start]:
            sb.state.remove_session(w, old)
        session = WebinarSession(sb.state.keys.key(), w.webinar_key, s_start, s_end,
                                 starting_organizer_key=w.organizer_key)
        sb.state.add_session(w, session)
        for ref, intervals in attendees.items():
            if isinstance(ref, str) and not ref.isdigit():
                rk = w.by_email.get(ref.lower())
            else:
                rk = int(ref)
            registrant = w.registrants.get(rk) if rk is not None else None
            if registrant is None:
                raise ValueError(f"{ref} is not a registrant of webinar {webinar_key}")
            for join, leave in intervals or [(s_start, s_end)]:
                record_join(sb, w, session, registrant, join, leave)
        return session

    return sb.run(do)


# ---------------------------------------------------------------------------
# HTTP API


def _links(req: Request, page: int, size: int, total_pages: int) -> dict[str, Any]:
    def href(p: int) -> str:
        query = {k: v[0] for k, v in req.query.items()}
        query.update(page=str(p), size=str(size))
        return req.url(req.path) + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())

    return {
        "first": {"href": href(0)},
        "self": {"href": href(page)},
        "last": {"href": href(max(0, total_pages - 1))},
    }


def _hal(req: Request, name: str, items: list[Any], total: int, page: int, size: int) -> dict[str, Any]:
    total_pages = (total + size - 1) // size
    return {
        "_embedded": {name: items},
        "_links": _links(req, page, size, total_pages),
        "page": {"size": size, "totalElements": total, "totalPages": total_pages, "number": page},
    }


def _page_args(req: Request) -> tuple[int, int]:
    page = int_arg(req, "page", 0, minimum=0)
    size = int_arg(req, "size", DEFAULT_PAGE, minimum=1, maximum=MAX_PAGE)
    return page or 0, size or DEFAULT_PAGE


def register(sb: GoToSandbox, router: Router) -> None:
    def webinar_of(req: Request, organizerKey: int, webinarKey: int) -> Webinar:
        sb.path_organizer(req, organizerKey)
        w = sb.state.live_webinar(webinarKey)
        if w is None or (w.organizer_key != organizerKey and not _is_coorganizer(w, organizerKey)):
            raise not_found(f"Webinar with key {webinarKey} was not found.")
        return w

    def webinar_in_account(req: Request, webinarKey: int) -> Webinar:
        w = sb.state.live_webinar(webinarKey)
        user = req.context["user"]
        if w is None or w.account_key != user.account_key:
            raise not_found(f"Webinar with key {webinarKey} was not found.")
        if w.organizer_key != user.organizer_key and not user.is_admin and not _is_coorganizer(
                w, user.organizer_key):
            raise forbidden("Only the organizer or a co-organizer may do this.")
        return w

    def session_of(w: Webinar, sessionKey: int) -> WebinarSession:
        s = sb.state.sessions.get(sessionKey)
        if s is None or s.webinar_key != w.webinar_key or s.end > sb.now():
            raise not_found(f"Session with key {sessionKey} was not found.")
        return s

    def list_from_index(req: Request, index: SortedIndex | None) -> Response:
        start = required_time_arg(req, "fromTime")
        end = required_time_arg(req, "toTime")
        page, size = _page_args(req)
        if end < start:
            raise bad_request("toTime must not be before fromTime.")
        items = index.items if index is not None else []
        lo, hi = index.bounds(start, end) if index is not None else (0, 0)
        total = hi - lo
        a, b, _ = page_window(total, page, size)
        webinars = [webinar_item(sb, sb.state.webinars[key]) for _, key in items[lo + a: lo + b]]
        return json_response(_hal(req, "webinars", webinars, total, page, size))

    # -- webinars -----------------------------------------------------------------
    def account_webinars(req: Request, accountKey: int) -> Response:
        sb.path_account(req, accountKey)
        return list_from_index(req, sb.state.webinars_by_account.get(accountKey))

    def organizer_webinars(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        return list_from_index(req, sb.state.webinars_by_organizer.get(organizerKey))

    def create(req: Request, organizerKey: int) -> Response:
        organizer = sb.path_organizer(req, organizerKey)
        data = json_body(req, dict)
        created = create_webinars(sb, organizer, data)
        body = {"webinarKey": str(created[0].webinar_key)}
        if created[0].recurrence_key is not None:
            body["recurrenceKey"] = str(created[0].recurrence_key)
        return json_response(body, 201)

    def in_session(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        start = optional_time_arg(req, "fromTime")
        end = required_time_arg(req, "toTime")
        now = sb.now()
        out = []
        index = sb.state.webinars_by_organizer.get(organizerKey)
        if index is not None:
            # Only webinars whose first session has started can be in session.
            for _, key in index.items[: bisect.bisect_right(index.items, (now, 2**64))]:
                w = sb.state.webinars[key]
                live = [t for t in w.times if t[0] <= now < t[1]]
                if not live:
                    continue
                if (start and live[0][1] < start) or live[0][0] > end:
                    continue
                out.append(_broker_webinar(sb, w))
        return json_response(out)

    def get(req: Request, organizerKey: int, webinarKey: int) -> Response:
        return json_response(webinar_by_key(sb, webinar_of(req, organizerKey, webinarKey)))

    def update(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        data = json_body(req, dict)
        notify = bool_arg(req, "notifyParticipants", False)
        now = sb.now()
        if not data:
            raise bad_request("The request body needs at least one field to update.")
        if w.in_session(now):
            raise bad_request("The webinar is in progress and cannot be updated.")
        if w.last_end <= now:
            raise bad_request("The webinar has ended and cannot be updated.")
        changes: dict[str, Any] = {}
        if "subject" in data:
            subject = data["subject"]
            if not isinstance(subject, str) or not subject.strip() or len(subject) > 128:
                raise bad_request("subject must be a non-empty string of at most 128 characters.")
            changes["subject"] = subject.strip()
        if "description" in data:
            if not isinstance(data["description"], str) or len(data["description"]) > 2048:
                raise bad_request("description must be a string of at most 2048 characters.")
            changes["description"] = data["description"]
        if "times" in data:
            times = parse_times(data["times"], now)
            if w.type != "sequence" and len(times) != 1:
                raise bad_request("This webinar takes exactly one element in times.")
            changes["times"] = times
        if "timeZone" in data:
            changes["time_zone"] = _check_tz(data["timeZone"])
        if "locale" in data:
            if data["locale"] not in LOCALES:
                raise bad_request(f"locale must be one of {', '.join(LOCALES)}.")
            changes["locale"] = data["locale"]
        if "emailSettings" in data:
            changes["email_settings"] = _email_settings(data["emailSettings"], w.email_settings)
        for key, value in changes.items():
            if key == "times":
                drop_planned_sessions(sb, w)
                sb.state.set_webinar_times(w, value)
                if w.type == "sequence":
                    w.recurrence_period = _period(value)
            else:
                setattr(w, key, value)
        if notify:
            for r in w.registrants.values():
                sb.record_email("update", r.email, f"Updated: {w.subject}", webinarKey=w.webinar_key)
        sb.webhooks.emit("webinar.changed", w.organizer_key, webinar_event(sb, w, "UPDATED"))
        return no_content(202)

    def delete(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        notify = bool_arg(req, "sendCancellationEmails", False)
        delete_all = bool_arg(req, "deleteAll", True)
        now = sb.now()
        targets = [w]
        if w.type == "series" and delete_all and w.recurrence_key is not None:
            targets = [
                sb.state.webinars[k] for k in sb.state.recurrences.get(w.recurrence_key, [])
                if sb.state.webinars[k].cancelled_at is None
                and (k == w.webinar_key or sb.state.webinars[k].first_start > now)
            ]
        if any(t.in_session(now) for t in targets):
            raise product_error(409, "WebinarInSession", "The webinar is in session and cannot be cancelled.")
        for target in targets:
            cancel(sb, target, notify=notify)
        return no_content(204)

    def meeting_times(req: Request, organizerKey: int, webinarKey: int) -> Response:
        return json_response(_times(webinar_of(req, organizerKey, webinarKey).times))

    def get_audio(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        return json_response(_audio_json(w))

    def post_audio(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        data = json_body(req, dict)
        kind = data.get("type")
        if kind not in ("PSTN", "VOIP", "Hybrid", "Private"):
            raise bad_request("type must be one of PSTN, VOIP, Hybrid, Private.")
        audio: dict[str, Any] = {"type": kind}
        if kind in ("PSTN", "Hybrid"):
            pstn = data.get("pstnInfo") or {}
            audio["tollFreeCountries"] = list(pstn.get("tollFreeCountries") or [])
            audio["tollCountries"] = list(pstn.get("tollCountries") or ["US"])
        if kind == "Private":
            private = data.get("privateInfo") or {}
            if not private.get("attendee"):
                raise bad_request("privateInfo.attendee is required for Private audio.")
            audio["privateInfo"] = {k: str(v) for k, v in private.items() if k in ("attendee", "organizer",
                                                                                    "panelist")}
        w.audio = audio
        return no_content(204)

    def performance(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        return json_response({str(s.session_key): session_performance(w, s) for s in w.visible_sessions(sb.now())})

    def start_url(req: Request, webinarKey: int) -> Response:
        w = webinar_in_account(req, webinarKey)
        return json_response({"startUrl": sb.url(f"/gotowebinar/start/{w.webinar_key}")})

    def copy(req: Request, webinarKey: int) -> Response:
        source = webinar_in_account(req, webinarKey)
        data = json_body(req, dict)
        organizer = sb.state.organizers[source.organizer_key]
        body = {
            "subject": data.get("subject") or source.subject,
            "description": source.description,
            "type": data.get("type") or "single_session",
            "times": data.get("times"),
            "timeZone": data.get("timeZone") or source.time_zone,
            "locale": data.get("locale") or source.locale,
            "experienceType": source.experience_type,
            "recordingAssetKey": data.get("recordingAssetKey") or "copied",
            "isOndemand": data.get("isOndemand", source.is_ondemand),
            "emailSettings": data.get("emailSettings"),
        }
        created = create_webinars(sb, organizer, body)
        for w in created:
            w.email_settings = _email_settings(data.get("emailSettings"), source.email_settings)
            w.questions = list(source.questions)
            w.fields = [dict(f) for f in source.fields]
        return json_response({"webinarKey": str(created[0].webinar_key)}, 201)

    # -- co-organizers and panelists ---------------------------------------------------
    def get_coorganizers(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        return json_response([dict(c) for c in w.coorganizers])

    def post_coorganizers(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        items = json_body(req, list)
        created = []
        for item in items:
            if not isinstance(item, dict) or "external" not in item:
                raise bad_request("Each co-organizer needs the 'external' flag.")
            if item["external"]:
                if not item.get("givenName") or not item.get("email"):
                    raise bad_request("External co-organizers need givenName and email.")
                member_key = sb.state.keys.key()
                entry = {"joinLink": "", "email": item["email"], "memberKey": str(member_key), "external": True,
                         "surname": "", "givenName": item["givenName"]}
            else:
                try:
                    other = sb.state.organizers[int(item.get("organizerKey"))]
                except (TypeError, ValueError, KeyError):
                    raise bad_request(
                        "Internal co-organizers need the organizerKey of a user of the account."
                    ) from None
                if other.account_key != w.account_key:
                    raise bad_request("The co-organizer must belong to the same account.")
                member_key = other.organizer_key
                entry = {"joinLink": "", "email": other.email, "memberKey": str(member_key), "external": False,
                         "surname": other.last_name, "givenName": other.first_name}
            entry["joinLink"] = sb.url(f"/gotowebinar/start/{w.webinar_key}?member={member_key}")
            created.append(entry)
        w.coorganizers.extend(created)
        return json_response([dict(c) for c in created], 201)

    def find_coorganizer(req: Request, w: Webinar, key: int) -> dict[str, Any]:
        external = bool_arg(req, "external", False)
        for c in w.coorganizers:
            if c["memberKey"] == str(key) and c["external"] == external:
                return c
        raise not_found(f"Co-organizer {key} was not found.")

    def delete_coorganizer(req: Request, organizerKey: int, webinarKey: int, coorganizerKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        w.coorganizers.remove(find_coorganizer(req, w, coorganizerKey))
        return no_content(204)

    def resend_coorganizer(req: Request, organizerKey: int, webinarKey: int, coorganizerKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        c = find_coorganizer(req, w, coorganizerKey)
        sb.record_email("coorganizerInvitation", c["email"], f"Co-organize: {w.subject}", webinarKey=w.webinar_key)
        return no_content(204)

    def get_panelists(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        out = []
        for p in w.panelists:
            first, _, last = p["name"].partition(" ")
            out.append({"joinLink": p["joinLink"], "lastName": last, "email": p["email"], "name": p["name"],
                        "panelistId": p["panelistId"], "firstName": first})
        return json_response(out)

    def post_panelists(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        items = json_body(req, list)
        created = []
        for item in items:
            if not isinstance(item, dict) or not item.get("name") or not item.get("email"):
                raise bad_request("Each panelist needs a name and an email.")
            key = sb.state.keys.key()
            panelist = {"panelistId": key, "name": item["name"], "email": item["email"],
                        "joinLink": sb.url(f"/gotowebinar/join/{w.webinar_key}/panelist-{key}")}
            created.append(panelist)
        w.panelists.extend(created)
        return json_response([{"name": p["name"], "email": p["email"], "joinLink": p["joinLink"],
                               "panelistKey": str(p["panelistId"])} for p in created], 201)

    def find_panelist(w: Webinar, key: int) -> dict[str, Any]:
        for p in w.panelists:
            if p["panelistId"] == key:
                return p
        raise not_found(f"Panelist {key} was not found.")

    def delete_panelist(req: Request, organizerKey: int, webinarKey: int, panelistKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        w.panelists.remove(find_panelist(w, panelistKey))
        return no_content(204)

    def resend_panelist(req: Request, organizerKey: int, webinarKey: int, panelistKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        p = find_panelist(w, panelistKey)
        sb.record_email("panelistInvitation", p["email"], f"Panelist: {w.subject}", webinarKey=w.webinar_key)
        return no_content(204)

    # -- registrants -----------------------------------------------------------------------
    def create_registrant(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        data = json_body(req, dict)
        basic = BASIC_ACCEPT in (req.header("accept") or "").lower()
        resend = bool_arg(req, "resendConfirmation", False)
        registrant, _ = register_registrant(sb, w, data, basic=basic, resend=resend)
        return json_response({"registrantKey": registrant.registrant_key, "joinUrl": join_url(sb, registrant)}, 201)

    def list_registrants(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        if not req.has_arg("page") and not req.has_arg("limit"):
            return json_response([registrant_json(sb, w.registrants[k]) for k in w.reg_order])
        page = int_arg(req, "page", 0, minimum=0) or 0
        limit = int_arg(req, "limit", DEFAULT_PAGE, minimum=1, maximum=MAX_PAGE) or DEFAULT_PAGE
        total = len(w.reg_order)
        a, b, _ = page_window(total, page, limit)
        data = [registrant_json(sb, w.registrants[k]) for k in w.reg_order[a:b]]
        return json_response({"data": data, "total": total, "page": page, "limit": limit, "pageSize": len(data)})

    def registration_fields(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        fields = [{"field": name, "required": True, "maxSize": 128} for name in ("firstName", "lastName", "email")]
        for spec in w.fields:
            entry: dict[str, Any] = {"field": spec["field"], "required": bool(spec.get("required")), "maxSize": 128}
            if spec["field"] in FIELD_CHOICES:
                entry["answers"] = list(FIELD_CHOICES[spec["field"]])
            fields.append(entry)
        questions = []
        for q in w.questions:
            entry = {"questionKey": q.question_key, "question": q.question, "required": q.required, "type": q.type,
                     "maxSize": q.max_size}
            if q.type == "multipleChoice":
                entry["answers"] = [{"answerKey": k, "answer": a} for k, a in q.answers]
            questions.append(entry)
        return json_response({"fields": fields, "questions": questions})

    def registrant_of(w: Webinar, registrantKey: int) -> Registrant:
        r = w.registrants.get(registrantKey)
        if r is None:
            raise not_found(f"Registrant with key {registrantKey} was not found.")
        return r

    def get_registrant(req: Request, organizerKey: int, webinarKey: int, registrantKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        return json_response(registrant_detailed(sb, w, registrant_of(w, registrantKey)))

    def delete_registrant(req: Request, organizerKey: int, webinarKey: int, registrantKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        registrant_of(w, registrantKey)
        if w.first_start <= sb.now():
            raise bad_request("Registrants can only be removed from scheduled, future webinars.")
        w.remove_registrant(registrantKey)
        return no_content(204)

    # -- sessions and attendees ----------------------------------------------------------------
    def organizer_sessions(req: Request, organizerKey: int) -> Response:
        sb.path_organizer(req, organizerKey)
        start = required_time_arg(req, "fromTime")
        end = required_time_arg(req, "toTime")
        page, size = _page_args(req)
        now = sb.now()
        index = sb.state.sessions_by_organizer.get(organizerKey)
        if index is None or end < start:
            return json_response(_hal(req, "sessionInfoResources", [], 0, page, size))
        lo, hi = index.bounds(start, min(end, now))
        # Sessions that started but have not ended are hidden; they can only be near `now`.
        tail_from = max(lo, bisect.bisect_left(index.items, (now - SESSION_VISIBILITY_SLACK, -1)))
        tail = [i for i in range(tail_from, hi) if sb.state.sessions[index.items[i][1]].end <= now]
        head = tail_from - lo
        total = head + len(tail)
        a, b, _ = page_window(total, page, size)
        positions = [lo + i if i < head else tail[i - head] for i in range(a, b)]
        items = []
        for pos in positions:
            s = sb.state.sessions[index.items[pos][1]]
            items.append(reporting_session(sb, sb.state.webinars[s.webinar_key], s))
        return json_response(_hal(req, "sessionInfoResources", items, total, page, size))

    def webinar_sessions(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        page, size = _page_args(req)
        sessions = w.visible_sessions(sb.now())
        a, b, _ = page_window(len(sessions), page, size)
        items = [reporting_session(sb, w, s) for s in sessions[a:b]]
        return json_response(_hal(req, "sessionInfoResources", items, len(sessions), page, size))

    def session_attendees(req: Request, organizerKey: int, webinarKey: int, sessionKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        s = session_of(w, sessionKey)
        return json_response([attendee_json(w, s, rk, iv) for rk, iv in s.attendance.items()])

    def webinar_attendees(req: Request, organizerKey: int, webinarKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        page, size = _page_args(req)
        sessions = w.visible_sessions(sb.now())
        total = sum(len(s.attendance) for s in sessions)
        a, b, _ = page_window(total, page, size)
        items: list[dict[str, Any]] = []
        offset = 0
        for s in sessions:
            n = len(s.attendance)
            if offset + n <= a:
                offset += n
                continue
            skip = max(0, a - offset)
            for rk, iv in islice(s.attendance.items(), skip, skip + (b - a - len(items))):
                items.append(attendee_json(w, s, rk, iv))
            offset += n
            if len(items) >= b - a:
                break
        return json_response(_hal(req, "attendeeParticipationResponses", items, total, page, size))

    def attendee_of(req: Request, organizerKey: int, webinarKey: int, sessionKey: int, registrantKey: int
                    ) -> tuple[Webinar, WebinarSession, int]:
        w = webinar_of(req, organizerKey, webinarKey)
        s = session_of(w, sessionKey)
        if registrantKey not in s.attendance:
            raise not_found(f"Attendee with key {registrantKey} was not found in session {sessionKey}.")
        return w, s, registrantKey

    def get_attendee(req: Request, organizerKey: int, webinarKey: int, sessionKey: int, registrantKey: int
                     ) -> Response:
        w, s, rk = attendee_of(req, organizerKey, webinarKey, sessionKey, registrantKey)
        r = w.registrants.get(rk)
        if r is None:
            raise not_found(f"Registrant with key {rk} was not found.")
        return json_response(registrant_json(sb, r))

    def attendee_polls(req: Request, organizerKey: int, webinarKey: int, sessionKey: int, registrantKey: int
                       ) -> Response:
        _, s, rk = attendee_of(req, organizerKey, webinarKey, sessionKey, registrantKey)
        return json_response(attendee_answers(s, rk, survey=False))

    def attendee_surveys(req: Request, organizerKey: int, webinarKey: int, sessionKey: int, registrantKey: int
                         ) -> Response:
        _, s, rk = attendee_of(req, organizerKey, webinarKey, sessionKey, registrantKey)
        return json_response(attendee_answers(s, rk, survey=True))

    def attendee_questions(req: Request, organizerKey: int, webinarKey: int, sessionKey: int, registrantKey: int
                           ) -> Response:
        w, s, rk = attendee_of(req, organizerKey, webinarKey, sessionKey, registrantKey)
        return json_response([question_json(sb, w, q) for q in s.questions if q.registrant_key == rk])

    def session_performance_route(req: Request, organizerKey: int, webinarKey: int, sessionKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        return json_response(session_performance(w, session_of(w, sessionKey)))

    def session_polls(req: Request, organizerKey: int, webinarKey: int, sessionKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        s = session_of(w, sessionKey)
        return json_response([poll_json(p) for p in s.polls if not p.survey])

    def session_surveys(req: Request, organizerKey: int, webinarKey: int, sessionKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        s = session_of(w, sessionKey)
        return json_response([poll_json(p) for p in s.polls if p.survey])

    def session_questions(req: Request, organizerKey: int, webinarKey: int, sessionKey: int) -> Response:
        w = webinar_of(req, organizerKey, webinarKey)
        s = session_of(w, sessionKey)
        return json_response([question_json(sb, w, q) for q in s.questions])

    ok = f"{G2W}/organizers/{{organizerKey:int}}"
    wk = f"{ok}/webinars/{{webinarKey:int}}"
    sk = f"{wk}/sessions/{{sessionKey:int}}"
    ak = f"{sk}/attendees/{{registrantKey:int}}"
    routes = [
        ("GET", f"{G2W}/accounts/{{accountKey:int}}/webinars", account_webinars),
        ("GET", f"{ok}/webinars", organizer_webinars),
        ("POST", f"{ok}/webinars", create),
        ("GET", f"{ok}/insessionWebinars", in_session),
        ("GET", f"{ok}/sessions", organizer_sessions),
        ("GET", wk, get),
        ("PUT", wk, update),
        ("DELETE", wk, delete),
        ("GET", f"{wk}/meetingtimes", meeting_times),
        ("GET", f"{wk}/audio", get_audio),
        ("POST", f"{wk}/audio", post_audio),
        ("GET", f"{wk}/performance", performance),
        ("GET", f"{G2W}/webinars/{{webinarKey:int}}/startUrl", start_url),
        ("PUT", f"{G2W}/webinars/{{webinarKey:int}}/copy", copy),
        ("GET", f"{wk}/coorganizers", get_coorganizers),
        ("POST", f"{wk}/coorganizers", post_coorganizers),
        ("DELETE", f"{wk}/coorganizers/{{coorganizerKey:int}}", delete_coorganizer),
        ("POST", f"{wk}/coorganizers/{{coorganizerKey:int}}/resendInvitation", resend_coorganizer),
        ("GET", f"{wk}/panelists", get_panelists),
        ("POST", f"{wk}/panelists", post_panelists),
        ("DELETE", f"{wk}/panelists/{{panelistKey:int}}", delete_panelist),
        ("POST", f"{wk}/panelists/{{panelistKey:int}}/resendInvitation", resend_panelist),
        ("POST", f"{wk}/registrants", create_registrant),
        ("GET", f"{wk}/registrants", list_registrants),
        ("GET", f"{wk}/registrants/fields", registration_fields),
        ("GET", f"{wk}/registrants/{{registrantKey:int}}", get_registrant),
        ("DELETE", f"{wk}/registrants/{{registrantKey:int}}", delete_registrant),
        ("GET", f"{wk}/sessions", webinar_sessions),
        ("GET", f"{wk}/attendees", webinar_attendees),
        ("GET", sk, session_attendees),
        ("GET", f"{sk}/attendees", session_attendees),
        ("GET", f"{sk}/performance", session_performance_route),
        ("GET", f"{sk}/polls", session_polls),
        ("GET", f"{sk}/questions", session_questions),
        ("GET", f"{sk}/surveys", session_surveys),
        ("GET", ak, get_attendee),
        ("GET", f"{ak}/polls", attendee_polls),
        ("GET", f"{ak}/questions", attendee_questions),
        ("GET", f"{ak}/surveys", attendee_surveys),
    ]
    for method, template, handler in routes:
        router.add(method, template, handler)


def _is_coorganizer(w: Webinar, organizer_key: int) -> bool:
    return any(not c["external"] and c["memberKey"] == str(organizer_key) for c in w.coorganizers)


def _audio_json(w: Webinar) -> dict[str, Any]:
    audio = w.audio
    out: dict[str, Any] = {"type": audio.get("type", "Hybrid")}
    if out["type"] in ("PSTN", "Hybrid"):
        numbers = {}
        seed = random.Random(w.webinar_key)
        for country in audio.get("tollCountries") or ["US"]:
            numbers[country] = {
                "toll": f"+1 (5{seed.randint(10, 99)}) {seed.randint(100, 999)}-{seed.randint(1000, 9999)}",
                "accessCodes": {"organizer": str(seed.randint(100_000_000, 999_999_999)),
                                "panelist": str(seed.randint(100_000_000, 999_999_999)),
                                "attendee": str(seed.randint(100_000_000, 999_999_999))},
            }
        for country in audio.get("tollFreeCountries") or []:
            numbers.setdefault(country, {"toll": "", "accessCodes": {"organizer": "", "panelist": "",
                                                                     "attendee": ""}})
            numbers[country]["tollFree"] = f"+1 (800) {seed.randint(100, 999)}-{seed.randint(1000, 9999)}"
        out["confCallNumbers"] = numbers
    if out["type"] == "Private":
        out["privateInfo"] = dict(audio.get("privateInfo") or {"attendee": ""})
    return out


def _broker_webinar(sb: GoToSandbox, w: Webinar) -> dict[str, Any]:
    organizer = sb.state.organizers[w.organizer_key]
    return {
        "numberOfRegistrants": len(w.registrants),
        "times": _times(w.times),
        "description": w.description,
        "subject": w.subject,
        "inSession": True,
        "organizerKey": w.organizer_key,
        "webinarKey": w.webinar_key,
        "webinarID": w.webinar_id,
        "timeZone": w.time_zone,
        "registrationUrl": registration_url(sb, w),
        "experienceType": w.experience_type.lower(),
        "coorganizers": [{"email": c["email"], "organizerKey": int(c["memberKey"])}
                         for c in w.coorganizers if not c["external"]],
        "organizerEmail": organizer.email,
        "organizerName": organizer.name,
        "impromptu": w.impromptu,
        "isOndemand": w.is_ondemand,
    }
