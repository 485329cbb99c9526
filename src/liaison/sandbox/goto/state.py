"""In-memory state of the GoTo sandbox: plain slotted dataclasses and the indexes the
API's access paths need (so that serving a page costs O(page), not O(all data)).

Keys (organizerKey, accountKey, webinarKey, registrantKey, sessionKey, trainingKey, ...)
are Python ints in the 19-digit range (> 2**53), rendered as JSON numbers or strings
according to each schema.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Interval = tuple[datetime, datetime]

KEY_MIN = 1_000_000_000_000_000_000  # 19 digits, far above 2**53
KEY_MAX = 2**63 - 1

# GoToAssist capabilities emulated in the sandbox-extension group (see assist.py).
G2A_CAPABILITIES = ("sessionReports", "connectionCodes", "agentStatus", "waitingQueue")


class KeyGen:
    """Unique 64-bit keys and short numeric ids from a seeded RNG.

    Keys are 19-digit integers that a double cannot represent exactly, so a client that
    parses JSON numbers as floats gets every key wrong at once (not one in 256).
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._used: set[int] = set()

    def key(self) -> int:
        bits = self.rng.getrandbits
        used = self._used
        while True:
            value = bits(63)
            if value >= KEY_MIN and value & 0xFF and value not in used:
                used.add(value)
                return value

    def digits(self, n: int) -> str:
        return str(self.rng.randint(10 ** (n - 1), 10**n - 1))


class SortedIndex:
    """``(time, key)`` pairs kept sorted; range queries by bisection."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[datetime, int]] = []

    def add(self, when: datetime, key: int) -> None:
        bisect.insort(self.items, (when, key))

    def remove(self, when: datetime, key: int) -> None:
        i = bisect.bisect_left(self.items, (when, key))
        if i < len(self.items) and self.items[i] == (when, key):
            del self.items[i]

    def bounds(self, start: datetime | None, end: datetime | None) -> tuple[int, int]:
        """Index range of the items whose time is within ``[start, end]``."""
        lo = 0 if start is None else bisect.bisect_left(self.items, (start, -1))
        hi = len(self.items) if end is None else bisect.bisect_right(self.items, (end, 2**64))
        return lo, max(lo, hi)

    def __len__(self) -> int:
        return len(self.items)


# ---------------------------------------------------------------------------
# Accounts and users


@dataclass(slots=True)
class Account:
    account_key: int
    name: str
    # G2A sandbox-extension capabilities this account has (see assist.py).
    g2a_capabilities: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Organizer:
    organizer_key: int
    account_key: int
    first_name: str
    last_name: str
    email: str
    locale: str = "en_US"
    time_zone: str = "Europe/Paris"
    products: tuple[str, ...] = ("G2W", "G2T", "G2M", "G2A")
    is_admin: bool = False

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# ---------------------------------------------------------------------------
# GoToWebinar


@dataclass(slots=True)
class RegistrationQuestion:
    question_key: int
    question: str
    type: str  # shortAnswer | multipleChoice
    required: bool
    max_size: int = 128
    answers: list[tuple[int, str]] = field(default_factory=list)  # (answerKey, answer)


@dataclass(slots=True)
class Registrant:
    registrant_key: int
    webinar_key: int
    first_name: str
    last_name: str
    email: str
    registration_date: datetime
    status: str = "APPROVED"  # APPROVED | WAITING | DENIED
    time_zone: str = "Europe/Paris"
    source: str = ""
    details: dict[str, str] | None = None  # address, city, organization, ...
    responses: list[dict[str, str]] | None = None  # [{question, answer}]
    unsubscribed: bool = False

    @property
    def join_id(self) -> int:
        """The short numeric id that ends the join URL (not the registrantKey)."""
        return 100_000_000 + (self.registrant_key >> 17) % 900_000_000


@dataclass(slots=True)
class Poll:
    question: str
    options: list[str]
    weights: list[int]
    survey: bool = False


@dataclass(slots=True)
class AttendeeQuestion:
    registrant_key: int
    question: str
    asked_at: datetime
    answer: str
    answered_by: str  # organizer name
    answerer_email: str
    answered_at: datetime


@dataclass(slots=True)
class WebinarSession:
    session_key: int
    webinar_key: int
    start: datetime
    end: datetime
    attendance: dict[int, list[Interval]] = field(default_factory=dict)  # registrantKey -> intervals
    polls: list[Poll] = field(default_factory=list)
    questions: list[AttendeeQuestion] = field(default_factory=list)
    starting_organizer_key: int = 0
    reg_link_clicks: int = 0
    opened_invitations: int = 0


@dataclass(slots=True)
class Webinar:
    webinar_key: int
    webinar_id: str
    organizer_key: int
    account_key: int
    subject: str
    description: str
    times: list[Interval]
    time_zone: str = "Europe/Paris"
    locale: str = "en_US"
    type: str = "single_session"  # single_session | series | sequence
    recurrence_key: int | None = None
    recurrence_period: str = "never"  # never | daily | weekly | monthly
    experience_type: str = "CLASSIC"
    approval_type: str = "AUTOMATIC"
    is_password_protected: bool = False
    is_ondemand: bool = False
    is_breakout: bool = False
    impromptu: bool = False
    registration_limit: int = 1000
    created_at: datetime | None = None
    email_settings: dict[str, Any] = field(default_factory=dict)
    fields: list[dict[str, Any]] = field(default_factory=list)  # optional standard fields
    questions: list[RegistrationQuestion] = field(default_factory=list)
    registrants: dict[int, Registrant] = field(default_factory=dict)
    reg_order: list[int] = field(default_factory=list)
    by_email: dict[str, int] = field(default_factory=dict)
    sessions: list[WebinarSession] = field(default_factory=list)
    coorganizers: list[dict[str, Any]] = field(default_factory=list)
    panelists: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[str, Any] = field(default_factory=lambda: {"type": "Hybrid"})
    cancelled_at: datetime | None = None

    @property
    def first_start(self) -> datetime:
        return self.times[0][0]

    @property
    def last_end(self) -> datetime:
        return self.times[-1][1]

    def in_session(self, now: datetime) -> bool:
        return any(start <= now < end for start, end in self.times)

    def add_registrant(self, registrant: Registrant) -> None:
        self.registrants[registrant.registrant_key] = registrant
        self.reg_order.append(registrant.registrant_key)
        self.by_email[registrant.email.lower()] = registrant.registrant_key

    def remove_registrant(self, registrant_key: int) -> Registrant | None:
        registrant = self.registrants.pop(registrant_key, None)
        if registrant is not None:
            self.reg_order.remove(registrant_key)
            self.by_email.pop(registrant.email.lower(), None)
        return registrant

    def visible_sessions(self, now: datetime) -> list[WebinarSession]:
        """Sessions appear only once they have ended."""
        return [s for s in self.sessions if s.end <= now]


# ---------------------------------------------------------------------------
# Webhooks


@dataclass(slots=True)
class SecretKey:
    id: int
    value: str
    valid_from: datetime
    client_id: str


@dataclass(slots=True)
class Webhook:
    webhook_key: str
    client_id: str
    callback_url: str
    event_name: str
    event_version: str
    product: str
    state: str
    created_at: datetime


@dataclass(slots=True)
class UserSubscription:
    user_subscription_key: str
    webhook_key: str
    organizer_key: int
    callback_url: str | None
    state: str
    created_at: datetime


# ---------------------------------------------------------------------------
# GoToTraining


@dataclass(slots=True)
class TrainingRegistrant:
    registrant_key: int
    training_key: int
    email: str
    given_name: str
    surname: str
    registration_date: datetime
    status: str = "APPROVED"
    visible_from: datetime | None = None  # registrant-cache lag

    @property
    def join_id(self) -> int:
        return 100_000_000 + (self.registrant_key >> 17) % 900_000_000


@dataclass(slots=True)
class TrainingSession:
    session_key: int
    training_key: int
    start: datetime
    end: datetime
    attendance: dict[int, list[Interval]] = field(default_factory=dict)  # registrantKey -> intervals


@dataclass(slots=True)
class Recording:
    recording_id: int
    name: str
    description: str
    start: datetime
    end: datetime


@dataclass(slots=True)
class Training:
    training_key: int
    training_id: str
    organizer_key: int
    account_key: int
    name: str
    description: str
    time_zone: str
    times: list[Interval]
    organizers: list[int] = field(default_factory=list)
    disable_web_registration: bool = False
    disable_confirmation_email: bool = False
    registrants: dict[int, TrainingRegistrant] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)
    sessions: list[TrainingSession] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    created_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def last_end(self) -> datetime:
        return self.times[-1][1]


# ---------------------------------------------------------------------------
# GoToMeeting


@dataclass(slots=True)
class MeetingAttendee:
    name: str
    email: str
    join: datetime
    leave: datetime


@dataclass(slots=True)
class MeetingSession:
    session_id: int
    meeting_id: int
    start: datetime
    end: datetime
    attendees: list[MeetingAttendee] = field(default_factory=list)
    recording: dict[str, Any] | None = None


@dataclass(slots=True)
class Meeting:
    meeting_id: int
    organizer_key: int
    account_key: int
    subject: str
    start: datetime
    end: datetime
    meeting_type: str = "scheduled"  # immediate | scheduled | recurring
    password_required: bool = False
    conference_call_info: str = "Hybrid"
    max_participants: int = 250
    coorganizer_keys: list[str] = field(default_factory=list)
    sessions: list[MeetingSession] = field(default_factory=list)
    created_at: datetime | None = None
    deleted_at: datetime | None = None


# ---------------------------------------------------------------------------
# GoToAssist (Remote Support) and the sandbox extension group


@dataclass(slots=True)
class AssistEvent:
    at: datetime
    kind: str  # chat | file_transfer | remote_control | note | system
    participant: str
    content: str


@dataclass(slots=True)
class AssistSession:
    session_id: str
    account_key: int
    expert_key: int
    session_type: str
    status: str  # notStarted | waiting | active | complete | abandoned
    created_at: datetime
    start_token: str
    customer_name: str = ""
    customer_email: str = ""
    partner_object: str = ""
    partner_object_url: str = ""
    callback_url: str = ""
    machine_uuid: str = ""
    started_at: datetime | None = None
    customer_joined_at: datetime | None = None
    ended_at: datetime | None = None
    notes: str = ""
    recording: bool = False
    events: list[AssistEvent] = field(default_factory=list)
    # Sandbox-extension data (seeds/003 "Sessions API" fields).
    portal: str = "Support"
    custom_fields: dict[str, str] = field(default_factory=dict)
    resolution: str | None = None  # resolved | unresolved | unknown
    rating: int | None = None  # 1..5
    feedback: str | None = None


@dataclass(slots=True)
class ConnectionCode:
    code: str
    session_id: str
    expert_key: int
    account_key: int
    created_at: datetime
    expires_at: datetime
    cancelled_at: datetime | None = None


@dataclass(slots=True)
class QueuedCustomer:
    session_id: str
    customer_name: str
    portal: str
    waiting_since: datetime


# ---------------------------------------------------------------------------
# The whole state


class GoToState:
    """Everything the sandbox knows, with the indexes its API needs."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.keys = KeyGen(self.rng)
        self.accounts: dict[int, Account] = {}
        self.organizers: dict[int, Organizer] = {}
        self.organizers_by_email: dict[str, int] = {}
        # G2W
        self.webinars: dict[int, Webinar] = {}
        self.webinars_by_organizer: dict[int, SortedIndex] = {}
        self.webinars_by_account: dict[int, SortedIndex] = {}
        self.sessions: dict[int, WebinarSession] = {}
        self.sessions_by_organizer: dict[int, SortedIndex] = {}
        self.recurrences: dict[int, list[int]] = {}  # recurrenceKey -> webinarKeys
        # Webhooks
        self.secret_keys: list[SecretKey] = []
        self.webhooks: dict[str, Webhook] = {}
        self.user_subscriptions: dict[str, UserSubscription] = {}
        # G2T
        self.trainings: dict[int, Training] = {}
        self.trainings_by_organizer: dict[int, list[int]] = {}
        self.training_sessions: dict[int, TrainingSession] = {}
        self.training_sessions_by_organizer: dict[int, SortedIndex] = {}
        # G2M
        self.meetings: dict[int, Meeting] = {}
        self.meetings_by_organizer: dict[int, SortedIndex] = {}
        self.meeting_sessions_by_organizer: dict[int, SortedIndex] = {}
        self.meeting_sessions: dict[int, MeetingSession] = {}
        # G2A
        self.assist_sessions: dict[str, AssistSession] = {}
        self.assist_by_account: dict[int, SortedIndex] = {}
        self.assist_numeric: dict[int, str] = {}  # numeric sessionId -> sessionId (for the index)
        self.connection_codes: dict[str, ConnectionCode] = {}
        self.queue: list[QueuedCustomer] = []
        self.agent_presence: dict[int, str] = {}  # organizerKey -> available | away | offline
        # Outbox of the e-mails GoTo would have sent (confirmation, cancellation, ...).
        self.outbox: list[dict[str, Any]] = []

    # -- accounts / organizers ---------------------------------------------
    def add_account(self, account: Account) -> Account:
        self.accounts[account.account_key] = account
        return account

    def add_organizer(self, organizer: Organizer) -> Organizer:
        self.organizers[organizer.organizer_key] = organizer
        self.organizers_by_email[organizer.email.lower()] = organizer.organizer_key
        return organizer

    def organizers_of(self, account_key: int) -> Iterator[Organizer]:
        return (o for o in self.organizers.values() if o.account_key == account_key)

    # -- G2W ---------------------------------------------------------------
    def add_webinar(self, webinar: Webinar) -> Webinar:
        self.webinars[webinar.webinar_key] = webinar
        self._index_webinar(webinar)
        if webinar.recurrence_key is not None:
            self.recurrences.setdefault(webinar.recurrence_key, []).append(webinar.webinar_key)
        return webinar

    def _index_webinar(self, webinar: Webinar) -> None:
        when = webinar.first_start
        self.webinars_by_organizer.setdefault(webinar.organizer_key, SortedIndex()).add(when, webinar.webinar_key)
        self.webinars_by_account.setdefault(webinar.account_key, SortedIndex()).add(when, webinar.webinar_key)

    def _unindex_webinar(self, webinar: Webinar) -> None:
        when = webinar.first_start
        self.webinars_by_organizer[webinar.organizer_key].remove(when, webinar.webinar_key)
        self.webinars_by_account[webinar.account_key].remove(when, webinar.webinar_key)

    def set_webinar_times(self, webinar: Webinar, times: list[Interval]) -> None:
        self._unindex_webinar(webinar)
        webinar.times = sorted(times)
        self._index_webinar(webinar)

    def cancel_webinar(self, webinar: Webinar, when: datetime) -> None:
        if webinar.cancelled_at is None:
            webinar.cancelled_at = when
            self._unindex_webinar(webinar)

    def add_session(self, webinar: Webinar, session: WebinarSession) -> WebinarSession:
        webinar.sessions.append(session)
        webinar.sessions.sort(key=lambda s: s.start)
        self.sessions[session.session_key] = session
        self.sessions_by_organizer.setdefault(webinar.organizer_key, SortedIndex()).add(
            session.start, session.session_key
        )
        return session

    def remove_session(self, webinar: Webinar, session: WebinarSession) -> None:
        webinar.sessions.remove(session)
        self.sessions.pop(session.session_key, None)
        self.sessions_by_organizer[webinar.organizer_key].remove(session.start, session.session_key)

    def live_webinar(self, webinar_key: int) -> Webinar | None:
        webinar = self.webinars.get(webinar_key)
        if webinar is None or webinar.cancelled_at is not None:
            return None
        return webinar

    # -- G2T ---------------------------------------------------------------
    def add_training(self, training: Training) -> Training:
        self.trainings[training.training_key] = training
        self.trainings_by_organizer.setdefault(training.organizer_key, []).append(training.training_key)
        return training

    def add_training_session(self, training: Training, session: TrainingSession) -> TrainingSession:
        training.sessions.append(session)
        training.sessions.sort(key=lambda s: s.start)
        self.training_sessions[session.session_key] = session
        self.training_sessions_by_organizer.setdefault(training.organizer_key, SortedIndex()).add(
            session.start, session.session_key
        )
        return session

    def remove_training_session(self, training: Training, session: TrainingSession) -> None:
        training.sessions.remove(session)
        self.training_sessions.pop(session.session_key, None)
        self.training_sessions_by_organizer[training.organizer_key].remove(session.start, session.session_key)

    # -- G2M ---------------------------------------------------------------
    def add_meeting(self, meeting: Meeting) -> Meeting:
        self.meetings[meeting.meeting_id] = meeting
        self.meetings_by_organizer.setdefault(meeting.organizer_key, SortedIndex()).add(
            meeting.start, meeting.meeting_id
        )
        return meeting

    def reschedule_meeting(self, meeting: Meeting, start: datetime, end: datetime) -> None:
        index = self.meetings_by_organizer[meeting.organizer_key]
        index.remove(meeting.start, meeting.meeting_id)
        meeting.start, meeting.end = start, end
        index.add(start, meeting.meeting_id)

    def delete_meeting(self, meeting: Meeting, when: datetime) -> None:
        if meeting.deleted_at is None:
            meeting.deleted_at = when
            self.meetings_by_organizer[meeting.organizer_key].remove(meeting.start, meeting.meeting_id)

    def remove_meeting_session(self, meeting: Meeting, session: MeetingSession) -> None:
        meeting.sessions.remove(session)
        self.meeting_sessions.pop(session.session_id, None)
        self.meeting_sessions_by_organizer[meeting.organizer_key].remove(session.start, session.session_id)

    def add_meeting_session(self, meeting: Meeting, session: MeetingSession) -> MeetingSession:
        meeting.sessions.append(session)
        meeting.sessions.sort(key=lambda s: s.start)
        self.meeting_sessions[session.session_id] = session
        self.meeting_sessions_by_organizer.setdefault(meeting.organizer_key, SortedIndex()).add(
            session.start, session.session_id
        )
        return session

    # -- G2A ---------------------------------------------------------------
    def add_assist_session(self, session: AssistSession) -> AssistSession:
        self.assist_sessions[session.session_id] = session
        numeric = int(session.session_id)
        self.assist_numeric[numeric] = session.session_id
        self.assist_by_account.setdefault(session.account_key, SortedIndex()).add(session.created_at, numeric)
        return session

    # -- stats ---------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {
            "accounts": len(self.accounts),
            "organizers": len(self.organizers),
            "webinars": len(self.webinars),
            "webinarRegistrants": sum(len(w.registrants) for w in self.webinars.values()),
            "webinarSessions": len(self.sessions),
            "webinarAttendances": sum(len(s.attendance) for s in self.sessions.values()),
            "trainings": len(self.trainings),
            "trainingRegistrants": sum(len(t.registrants) for t in self.trainings.values()),
            "trainingSessions": len(self.training_sessions),
            "meetings": len(self.meetings),
            "meetingSessions": len(self.meeting_sessions),
            "assistSessions": len(self.assist_sessions),
            "webhooks": len(self.webhooks),
            "userSubscriptions": len(self.user_subscriptions),
        }
