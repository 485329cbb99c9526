"""The connector's objects, with exactly the fields the connector documents (seeds/001).

GoToTraining (the GoToTraining connector's own objects):

* Training: ``trainingId, name, timeZone, times[startDate, endDate], organizers[givenName,
  surname, email, organizerKey], trainingKey``;
* Registrant: ``email, givenName, surname, status, registrationDate, joinUrl,
  confirmationUrl, registrantKey``.

GoToWebinar (GoTo's own field names, as the GoToWebinar connector uses them):

* Webinar: ``webinarKey, webinarID, subject, description, organizerKey, timeZone,
  times[startTime, endTime], registrationUrl``;
* Registrant: ``registrantKey, firstName, lastName, email, status, registrationDate, joinUrl``.

Keys are strings; times are ``YYYY-MM-DDThh:mm:ssZ`` (UTC); statuses are GoTo's
(``APPROVED``, ``WAITING``, ``DENIED``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from liaison.integrations.goto.client import parse_instant
from liaison.integrations.goto.models import Event, Registration


def z(moment: datetime | str | None) -> str | None:
    if moment in (None, ""):
        return None
    if isinstance(moment, str):
        moment = parse_instant(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _organizers(event: Event) -> list[dict[str, str]]:
    found = []
    for item in (event.extra or {}).get("organizers") or []:
        if isinstance(item, dict):
            found.append({"givenName": item.get("givenName", ""), "surname": item.get("surname", ""),
                          "email": item.get("email", ""), "organizerKey": str(item.get("organizerKey", ""))})
        else:  # stored before organizer details were kept: the key only
            found.append({"givenName": "", "surname": "", "email": "", "organizerKey": str(item)})
    if not found and event.organizer_key:
        found.append({"givenName": "", "surname": "", "email": "", "organizerKey": event.organizer_key})
    return found


def has_organizer_details(event: Event) -> bool:
    return any(isinstance(o, dict) for o in (event.extra or {}).get("organizers") or [])


def training_item(event: Event) -> dict[str, Any]:
    return {
        "trainingId": event.provider_id,
        "name": event.title,
        "timeZone": event.time_zone,
        "times": [{"startDate": z(t["start"]), "endDate": z(t["end"])} for t in event.times or []],
        "organizers": _organizers(event),
        "trainingKey": event.provider_key,
    }


def webinar_item(event: Event) -> dict[str, Any]:
    return {
        "webinarKey": event.provider_key,
        "webinarID": event.provider_id,
        "subject": event.title,
        "description": event.description,
        "organizerKey": event.organizer_key,
        "timeZone": event.time_zone,
        "times": [{"startTime": z(t["start"]), "endTime": z(t["end"])} for t in event.times or []],
        "registrationUrl": event.registration_url,
    }


def event_item(event: Event) -> dict[str, Any]:
    return training_item(event) if event.product == "training" else webinar_item(event)


def registrant_item(event: Event, registration: Registration) -> dict[str, Any]:
    status = registration.status.upper()
    if event.product == "training":
        return {
            "email": registration.email,
            "givenName": registration.first_name,
            "surname": registration.last_name,
            "status": status,
            "registrationDate": z(registration.registered_at),
            "joinUrl": registration.join_url,
            "confirmationUrl": registration.confirmation_url,
            "registrantKey": registration.registrant_key,
        }
    return {
        "registrantKey": registration.registrant_key,
        "firstName": registration.first_name,
        "lastName": registration.last_name,
        "email": registration.email,
        "status": status,
        "registrationDate": z(registration.registered_at),
        "joinUrl": registration.join_url,
    }
