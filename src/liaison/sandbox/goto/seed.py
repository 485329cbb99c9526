"""Deterministic seed data for the GoTo sandbox.

``populate(state, SeedConfig(...), now)`` fills a :class:`GoToState` from
``random.Random(state.seed)``: accounts and organizers, past / live / upcoming webinars
(single sessions, series and sequences) with registrants and attendance, trainings with
sessions and attendees, meetings with attendees, and GoToAssist sessions with ratings and
resolutions. Event times are relative to ``now`` floored to the hour, so two seeds with
the same parameters within the same hour are identical.

Contacts: a share of the registrants (``shared_contact_ratio``) comes from a shared pool,
so the same person registers for and attends several events; e-mails are unique per
event. Sessions of upcoming webinars are planned at seed time and become visible when
the clock passes their end (sessions only appear once they have ended).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from .state import (
    G2A_CAPABILITIES,
    Account,
    AssistEvent,
    AssistSession,
    AttendeeQuestion,
    GoToState,
    Interval,
    Meeting,
    MeetingAttendee,
    MeetingSession,
    Organizer,
    Poll,
    QueuedCustomer,
    Recording,
    Registrant,
    RegistrationQuestion,
    Training,
    TrainingRegistrant,
    TrainingSession,
    Webinar,
    WebinarSession,
)


@dataclass
class SeedConfig:
    """Size and shape of the seeded data (all counts may be 0)."""

    accounts: int = 1
    organizers: int = 3
    webinars: int = 20  # webinarKeys (each member of a series counts as one)
    registrants_per_webinar: int = 50
    attendance_ratio: float = 0.6
    series_ratio: float = 0.1  # share of webinars created as members of a series
    sequence_ratio: float = 0.1  # share of webinars that are sequences (several sessions)
    past_ratio: float = 0.6  # share of (non-live) events in the past
    live_webinars: int = 1  # webinars in session at seed time
    shared_contact_ratio: float = 0.3  # registrants taken from a pool shared by all events
    questions_ratio: float = 0.3  # webinars with custom registration questions
    trainings: int = 5
    registrants_per_training: int = 20
    training_attendance_ratio: float = 0.7
    meetings: int = 10
    attendees_per_meeting: int = 6
    assist_sessions: int = 20
    history_days: int = 180
    future_days: int = 90
    g2a_capabilities: tuple[str, ...] = G2A_CAPABILITIES  # enabled on the first account

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeedConfig:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown seed parameter: {key}")
            default = getattr(cls(), key)
            if isinstance(default, tuple):
                kwargs[key] = tuple(value)
            elif isinstance(default, float):
                kwargs[key] = float(value)
            else:
                kwargs[key] = int(value)
        config = cls(**kwargs)
        config.validate()
        return config

    def validate(self) -> None:
        for name in ("attendance_ratio", "series_ratio", "sequence_ratio", "past_ratio", "shared_contact_ratio",
                     "questions_ratio", "training_attendance_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.accounts < 1 or self.organizers < self.accounts:
            raise ValueError("need at least one account and one organizer per account")
        for name in ("webinars", "registrants_per_webinar", "trainings", "registrants_per_training", "meetings",
                     "attendees_per_meeting", "assist_sessions", "live_webinars", "history_days", "future_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        unknown = set(self.g2a_capabilities) - set(G2A_CAPABILITIES)
        if unknown:
            raise ValueError(f"unknown G2A capabilities: {', '.join(sorted(unknown))}")

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["g2a_capabilities"] = list(self.g2a_capabilities)
        return data


# ---------------------------------------------------------------------------
# Vocabulary

FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Hedy", "Tim",
    "Katherine", "John", "Radia", "Niklaus", "Sophie", "Lucas", "Emma", "Louis", "Chloé", "Hugo", "Léa", "Jules",
    "Zoë", "Noah", "Mia", "Elias", "Lena", "Jonas", "Anna", "Felix", "Marie", "Paul", "Sofia", "Mateo", "Lucía",
    "José", "Inès", "Björn", "Åsa", "Søren", "Maëlle", "François", "Jürgen", "Małgorzata", "Oğuz", "Aoife",
    "Siobhán", "Priya", "Arjun", "Mei", "Hiroshi", "Yuki", "Amara", "Kwame", "Fatima", "Omar", "Nadia", "Ivan",
)
LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra",
    "Lamarr", "Berners-Lee", "Johnson", "Backus", "Perlman", "Wirth", "Martin", "Bernard", "Dubois", "Durand",
    "Lefèvre", "Moreau", "Girard", "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
    "Becker", "García", "Fernández", "López", "Martínez", "Rossi", "Russo", "Bianchi", "Nowak", "Kowalski",
    "Andersson", "Johansson", "Nielsen", "Jensen", "O'Brien", "Murphy", "Kelly", "Yılmaz", "Patel", "Sharma",
    "Wang", "Li", "Tanaka", "Suzuki", "Mensah", "Okafor", "Haddad", "Novak", "Petrov", "Van der Berg",
)
DOMAINS = (
    "example.com", "example.org", "example.net", "acme.test", "globex.test", "initech.test", "umbrella.test",
    "hooli.test", "stark.test", "wayne.test", "mail.test", "post.test",
)
COMPANIES = ("Acme Learning", "Globex Training", "Initech Academy", "Umbrella Events", "Hooli Webinars")
TOPICS = (
    "Marketing automation", "Data privacy", "Customer onboarding", "Sales enablement", "Product roadmap",
    "Cloud migration", "Email deliverability", "Lead scoring", "Event marketing", "CRM hygiene",
    "Segmentation", "Analytics", "Accessibility", "Security awareness", "Remote teams",
)
ANGLES = (
    "getting started", "best practices", "live Q&A", "deep dive", "what's new", "case study",
    "masterclass", "office hours", "workshop", "expert panel",
)
TIME_ZONES = ("Europe/Paris", "Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago", "Asia/Tokyo")
LOCALES = ("en_US", "en_US", "en_US", "de_DE", "fr_FR", "es_ES", "it_IT")
OPTIONAL_FIELDS = ("organization", "jobTitle", "phone", "country", "city", "industry", "numberOfEmployees")
INDUSTRIES = ("Software", "Education", "Finance", "Healthcare", "Manufacturing", "Retail", "Public sector")
COUNTRIES = ("France", "Germany", "United Kingdom", "United States", "Spain", "Italy", "Japan")
JOB_TITLES = ("Marketing manager", "CMO", "Sales director", "Developer", "Consultant", "Student", "CEO")
EMPLOYEES = ("1-20", "21-50", "51-100", "101-500", "501-1000", "1001+")
POLL_QUESTIONS = (
    ("How did you hear about this webinar?", ["E-mail", "Website", "Social media", "A colleague"]),
    ("Do you already use marketing automation?", ["Yes", "No", "Evaluating"]),
    ("Which topic interests you most?", ["Segmentation", "Campaigns", "Integrations", "Reporting"]),
    ("How large is your team?", ["1-5", "6-20", "21-100", "100+"]),
)
SURVEY_QUESTIONS = (
    ("How would you rate this webinar?", ["Excellent", "Good", "Average", "Poor"]),
    ("Would you recommend it to a colleague?", ["Yes", "No"]),
)
ATTENDEE_QUESTIONS = (
    "Will the recording be shared?", "Does this work with our CRM?", "How are duplicates handled?",
    "Is there an API for this?", "Can we import contacts from a CSV file?", "What does it cost?",
)
PORTALS = ("Support", "Premium support", "Partners", "Internal IT")
RESOLUTIONS = ("resolved", "resolved", "resolved", "unresolved", "unknown")
FEEDBACK = (
    "Quick and friendly, thank you!", "Solved my problem in minutes.", "The agent was very patient.",
    "Took a while but it works now.", "Problem not solved yet.", "Great support as always.", "",
)
CHAT_LINES = (
    "Hello, how can I help you today?", "My e-mail sync stopped working.", "Let me take a look at your screen.",
    "I am transferring a log file.", "Please restart the application.", "It works now, thanks!",
)


def ascii_slug(text: str) -> str:
    normalized = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in normalized.lower() if ch.isalnum())


_FIRST_SLUGS = [ascii_slug(name) for name in FIRST_NAMES]
_LAST_SLUGS = [ascii_slug(name) for name in LAST_NAMES]


class _Contacts:
    """Names and e-mails: a shared pool plus an endless supply of fresh, unique people."""

    def __init__(self, rng: random.Random, pool_size: int) -> None:
        self.rng = rng
        self.counter = 0
        self.pool = [self.fresh() for _ in range(pool_size)]

    def fresh(self) -> tuple[str, str, str]:
        rng = self.rng
        i = int(rng.random() * len(FIRST_NAMES))
        j = int(rng.random() * len(LAST_NAMES))
        domain = DOMAINS[int(rng.random() * len(DOMAINS))]
        self.counter += 1
        return FIRST_NAMES[i], LAST_NAMES[j], f"{_FIRST_SLUGS[i]}.{_LAST_SLUGS[j]}{self.counter}@{domain}"

    def for_event(self, n: int, shared_ratio: float) -> list[tuple[str, str, str]]:
        n_shared = min(len(self.pool), int(round(n * shared_ratio)))
        people = [self.pool[i] for i in self.rng.sample(range(len(self.pool)), n_shared)] if n_shared else []
        people.extend(self.fresh() for _ in range(n - n_shared))
        return people


def _business_time(rng: random.Random, day: datetime) -> datetime:
    return day.replace(hour=7 + int(rng.random() * 10), minute=(0, 15, 30, 45)[int(rng.random() * 4)])


def _attendance(rng: random.Random, start: datetime, end: datetime) -> list[Interval]:
    """One or two join/leave intervals inside a session."""
    length = (end - start).total_seconds()
    join = start + timedelta(seconds=int(min(rng.expovariate(1 / 240.0), length * 0.5)))
    if rng.random() < 0.25:
        leave = join + timedelta(seconds=int((end - join).total_seconds() * (0.3 + 0.6 * rng.random())))
    else:
        leave = end + timedelta(seconds=int(rng.random() * 240))
    if rng.random() < 0.15 and leave < end - timedelta(minutes=10):
        gap_end = leave + timedelta(seconds=60 + int(rng.random() * 600))
        if gap_end < end:
            return [(join, leave), (gap_end, end + timedelta(seconds=int(rng.random() * 120)))]
    return [(join, leave)]


def populate(state: GoToState, config: SeedConfig, now: datetime) -> None:
    config.validate()
    rng = state.rng
    keys = state.keys
    anchor = now.replace(minute=0, second=0, microsecond=0)
    pool_size = max(50, 3 * max(config.registrants_per_webinar, config.registrants_per_training))
    contacts = _Contacts(rng, pool_size)

    # -- accounts and organizers ------------------------------------------------
    accounts = []
    for i in range(config.accounts):
        caps = set(config.g2a_capabilities) if i == 0 else set()
        accounts.append(state.add_account(Account(keys.key(), f"{COMPANIES[i % len(COMPANIES)]}", caps)))
    organizers: list[Organizer] = []
    for i in range(config.organizers):
        account = accounts[i % len(accounts)]
        first, last, _ = contacts.fresh()
        domain = ascii_slug(account.name) + ".test"
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}"
        if email.lower() in state.organizers_by_email:
            email = f"{ascii_slug(first)}.{ascii_slug(last)}{i}@{domain}"
        organizers.append(
            state.add_organizer(
                Organizer(
                    keys.key(), account.account_key, first, last, email,
                    locale=LOCALES[i % len(LOCALES)] if i else "en_US",
                    time_zone=TIME_ZONES[i % len(TIME_ZONES)],
                    is_admin=i < len(accounts),
                )
            )
        )

    def pick_organizer() -> Organizer:
        return organizers[int(rng.random() * len(organizers))]

    def event_start(kind: str) -> datetime:
        if kind == "live":
            return anchor - timedelta(minutes=30)
        if kind == "past":
            days = 1 + int(rng.random() * max(1, config.history_days - 1))
            return _business_time(rng, anchor - timedelta(days=days))
        days = 1 + int(rng.random() * max(1, config.future_days - 1))
        return _business_time(rng, anchor + timedelta(days=days))

    def timing() -> str:
        return "past" if rng.random() < config.past_ratio else "upcoming"

    # -- webinars ------------------------------------------------------------------
    live_left = config.live_webinars
    created = 0
    while created < config.webinars:
        organizer = pick_organizer()
        roll = rng.random()
        if live_left > 0:
            kind, members, sessions_per = "single_session", 1, 1
        elif roll < config.series_ratio:
            kind, members, sessions_per = "series", 2 + int(rng.random() * 3), 1
        elif roll < config.series_ratio + config.sequence_ratio:
            kind, members, sessions_per = "sequence", 1, 2 + int(rng.random() * 3)
        else:
            kind, members, sessions_per = "single_session", 1, 1
        members = min(members, config.webinars - created)
        when = "live" if live_left > 0 else timing()
        live_left -= 1 if when == "live" else 0
        base = event_start(when)
        duration = timedelta(minutes=(60, 60, 90, 120)[int(rng.random() * 4)])
        topic = TOPICS[int(rng.random() * len(TOPICS))]
        angle = ANGLES[int(rng.random() * len(ANGLES))]
        tz = organizer.time_zone
        locale = LOCALES[int(rng.random() * len(LOCALES))]
        recurrence_key = keys.key() if kind == "series" else None
        with_questions = rng.random() < config.questions_ratio
        chosen_fields = [f for f in OPTIONAL_FIELDS if rng.random() < 0.3]
        if kind == "sequence":
            step = timedelta(days=7)
            member_times = [[(base + i * step, base + i * step + duration) for i in range(sessions_per)]]
            period = "weekly"
        elif kind == "series":
            member_times = []
            offset = timedelta(0)
            for _ in range(members):
                member_times.append([(base + offset, base + offset + duration)])
                offset += timedelta(days=1 + int(rng.random() * 7))
            period = "never"
        else:
            member_times = [[(base, base + duration)]]
            period = "never"
        for times in member_times:
            _seed_webinar(
                state, config, rng, contacts, organizer, anchor, times, kind, recurrence_key, period,
                f"{topic}: {angle}", tz, locale, with_questions, chosen_fields,
            )
            created += 1

    # -- trainings ---------------------------------------------------------------------
    for _ in range(config.trainings):
        _seed_training(state, config, rng, contacts, pick_organizer(), anchor, event_start, timing)

    # -- meetings ------------------------------------------------------------------------
    for _ in range(config.meetings):
        _seed_meeting(state, config, rng, contacts, pick_organizer(), anchor, event_start, timing)

    # -- GoToAssist ------------------------------------------------------------------------
    for i in range(config.assist_sessions):
        _seed_assist(state, rng, contacts, organizers, anchor, config, live=(i < 2))


def _seed_webinar(
    state: GoToState, config: SeedConfig, rng: random.Random, contacts: _Contacts, organizer: Organizer,
    anchor: datetime, times: list[Interval], kind: str, recurrence_key: int | None, period: str, subject: str,
    tz: str, locale: str, with_questions: bool, chosen_fields: list[str],
) -> Webinar:
    keys = state.keys
    first_start = times[0][0]
    created_at = min(anchor, first_start) - timedelta(days=7 + int(rng.random() * 40))
    approval = "MANUAL" if rng.random() < 0.05 else "AUTOMATIC"
    webinar = Webinar(
        webinar_key=keys.key(),
        webinar_id=keys.digits(9),
        organizer_key=organizer.organizer_key,
        account_key=organizer.account_key,
        subject=subject,
        description=f"{subject}. A sandbox webinar by {organizer.name}.",
        times=list(times),
        time_zone=tz,
        locale=locale,
        type=kind,
        recurrence_key=recurrence_key,
        recurrence_period=period,
        experience_type="BROADCAST" if rng.random() < 0.1 else "CLASSIC",
        approval_type=approval,
        registration_limit=max(1000, config.registrants_per_webinar * 2),
        created_at=created_at,
        email_settings={
            "confirmationEmail": {"enabled": True},
            "reminderEmail": {"enabled": True},
            "absenteeFollowUpEmail": {"enabled": False},
            "attendeeFollowUpEmail": {"enabled": True, "includeCertificate": False},
        },
        fields=[{"field": f, "required": rng.random() < 0.3} for f in chosen_fields],
    )
    if with_questions:
        webinar.questions.append(
            RegistrationQuestion(keys.key(), "What do you expect from this webinar?", "shortAnswer", False, 256)
        )
        webinar.questions.append(
            RegistrationQuestion(
                keys.key(), "How many contacts do you manage?", "multipleChoice", rng.random() < 0.5, 128,
                [(keys.key(), "Fewer than 1,000"), (keys.key(), "1,000 to 100,000"), (keys.key(), "More")],
            )
        )
    state.add_webinar(webinar)

    # Registrants.
    registration_end = min(anchor, first_start)
    span = max(60.0, (registration_end - created_at).total_seconds())
    people = contacts.for_event(config.registrants_per_webinar, config.shared_contact_ratio)
    ended = first_start < anchor
    # Seeded answers to the custom questions: a few shared (never mutated) lists.
    answer_sets: list[list[dict[str, str]]] = []
    if webinar.questions:
        open_q, choice_q = webinar.questions
        answer_sets = [[{"question": open_q.question, "answer": "Learn the basics"},
                        {"question": choice_q.question, "answer": answer}] for _, answer in choice_q.answers]
    for first, last, email in people:
        if ended and rng.random() < 0.02:
            registered = first_start + timedelta(seconds=rng.random() * (anchor - first_start).total_seconds())
        else:
            registered = created_at + timedelta(seconds=rng.random() * span)
        status = "APPROVED"
        if approval == "MANUAL":
            status = ("APPROVED", "APPROVED", "WAITING", "DENIED")[int(rng.random() * 4)]
        details = None
        if chosen_fields:
            details = {}
            for f in chosen_fields:
                details[f] = _field_value(rng, f)
        responses = answer_sets[int(rng.random() * len(answer_sets))] if answer_sets else None
        webinar.add_registrant(
            Registrant(
                keys.key(), webinar.webinar_key, first, last, email, registered.replace(microsecond=0), status,
                tz, ("", "", "email", "website", "linkedin")[int(rng.random() * 5)], details, responses,
                rng.random() < 0.02,
            )
        )

    # Sessions (planned for upcoming ones; visible once ended).
    approved = [r for r in webinar.registrants.values() if r.status == "APPROVED"]
    for start, end in times:
        session = WebinarSession(keys.key(), webinar.webinar_key, start, end,
                                 starting_organizer_key=organizer.organizer_key)
        session.reg_link_clicks = int(len(webinar.registrants) * (1.2 + rng.random()))
        session.opened_invitations = int(len(webinar.registrants) * (0.5 + 0.4 * rng.random()))
        ratio = config.attendance_ratio
        for registrant in approved:
            if rng.random() < ratio:
                session.attendance[registrant.registrant_key] = _attendance(rng, start, end)
        for question, options in rng.sample(POLL_QUESTIONS, int(rng.random() * 3)):
            session.polls.append(Poll(question, options, [1 + int(rng.random() * 20) for _ in options]))
        for question, options in rng.sample(SURVEY_QUESTIONS, int(rng.random() * 3)):
            session.polls.append(Poll(question, options, [1 + int(rng.random() * 20) for _ in options], True))
        attendees = list(session.attendance)
        for rk in rng.sample(attendees, min(len(attendees), int(rng.random() * 5))):
            asked = session.attendance[rk][0][0] + timedelta(minutes=5 + int(rng.random() * 30))
            session.questions.append(
                AttendeeQuestion(
                    rk, ATTENDEE_QUESTIONS[int(rng.random() * len(ATTENDEE_QUESTIONS))], asked,
                    "Good question: yes, we will follow up by e-mail.", organizer.name, organizer.email,
                    asked + timedelta(minutes=2),
                )
            )
        state.add_session(webinar, session)
    return webinar


def _field_value(rng: random.Random, name: str) -> str:
    if name == "organization":
        return COMPANIES[int(rng.random() * len(COMPANIES))]
    if name == "jobTitle":
        return JOB_TITLES[int(rng.random() * len(JOB_TITLES))]
    if name == "phone":
        return f"+33 1 {int(rng.random() * 90 + 10)} {int(rng.random() * 90 + 10)} {int(rng.random() * 90 + 10)} 00"
    if name == "country":
        return COUNTRIES[int(rng.random() * len(COUNTRIES))]
    if name == "city":
        return ("Paris", "Berlin", "London", "Boston", "Madrid", "Rome")[int(rng.random() * 6)]
    if name == "industry":
        return INDUSTRIES[int(rng.random() * len(INDUSTRIES))]
    return EMPLOYEES[int(rng.random() * len(EMPLOYEES))]


def _seed_training(state: GoToState, config: SeedConfig, rng: random.Random, contacts: _Contacts,
                   organizer: Organizer, anchor: datetime, event_start: Any, timing: Any) -> None:
    keys = state.keys
    base = event_start(timing())
    n_sessions = 1 + int(rng.random() * 3)
    duration = timedelta(minutes=(60, 90, 120, 180)[int(rng.random() * 4)])
    times = [(base + timedelta(days=i), base + timedelta(days=i) + duration) for i in range(n_sessions)]
    topic = TOPICS[int(rng.random() * len(TOPICS))]
    training = Training(
        training_key=keys.key(),
        training_id=keys.digits(9),
        organizer_key=organizer.organizer_key,
        account_key=organizer.account_key,
        name=f"{topic} training",
        description=f"A {n_sessions}-session training on {topic.lower()}.",
        time_zone=organizer.time_zone,
        times=times,
        organizers=[organizer.organizer_key],
        created_at=min(anchor, base) - timedelta(days=10 + int(rng.random() * 30)),
    )
    state.add_training(training)
    span = max(60.0, (min(anchor, base) - training.created_at).total_seconds())
    for first, last, email in contacts.for_event(config.registrants_per_training, config.shared_contact_ratio):
        registered = (training.created_at + timedelta(seconds=rng.random() * span)).replace(microsecond=0)
        registrant = TrainingRegistrant(keys.key(), training.training_key, email, first, last, registered)
        training.registrants[registrant.registrant_key] = registrant
        training.by_email[email.lower()] = registrant.registrant_key
    for start, end in times:
        session = TrainingSession(keys.key(), training.training_key, start, end)
        for registrant in training.registrants.values():
            if rng.random() < config.training_attendance_ratio:
                session.attendance[registrant.registrant_key] = _attendance(rng, start, end)
        state.add_training_session(training, session)
    if base < anchor and rng.random() < 0.5:
        start, end = times[0]
        training.recordings.append(Recording(keys.key(), f"{training.name} (recording)",
                                             "Recording of the first session.", start, end))


def _seed_meeting(state: GoToState, config: SeedConfig, rng: random.Random, contacts: _Contacts,
                  organizer: Organizer, anchor: datetime, event_start: Any, timing: Any) -> None:
    keys = state.keys
    start = event_start(timing())
    duration = timedelta(minutes=(30, 45, 60, 90)[int(rng.random() * 4)])
    topic = TOPICS[int(rng.random() * len(TOPICS))]
    meeting = Meeting(
        meeting_id=int(keys.digits(9)),
        organizer_key=organizer.organizer_key,
        account_key=organizer.account_key,
        subject=f"{topic} sync",
        start=start,
        end=start + duration,
        meeting_type="recurring" if rng.random() < 0.2 else "scheduled",
        password_required=rng.random() < 0.2,
        conference_call_info=("Hybrid", "VoIP", "PSTN", "Free")[int(rng.random() * 4)],
        created_at=min(anchor, start) - timedelta(days=1 + int(rng.random() * 20)),
    )
    while meeting.meeting_id in state.meetings:
        meeting.meeting_id = int(keys.digits(9))
    state.add_meeting(meeting)
    if start + duration > anchor:
        return
    restarted = rng.random() < 0.1
    spans = [(start, start + duration)]
    if restarted:
        middle = start + duration / 2
        spans = [(start, middle - timedelta(minutes=2)), (middle, start + duration)]
    people = contacts.for_event(config.attendees_per_meeting, config.shared_contact_ratio)
    for s_start, s_end in spans:
        session = MeetingSession(int(keys.digits(10)), meeting.meeting_id, s_start, s_end)
        for first, last, email in people:
            if rng.random() < 0.85:
                for join, leave in _attendance(rng, s_start, s_end):
                    session.attendees.append(MeetingAttendee(f"{first} {last}", email, join, min(leave, s_end)))
        if rng.random() < 0.3:
            rid = keys.digits(10)
            session.recording = {
                "recordingId": rid,
                "recordingName": f"{meeting.subject} recording",
                "fileSize": 10_000_000 + int(rng.random() * 90_000_000),
            }
        state.add_meeting_session(meeting, session)


def _seed_assist(state: GoToState, rng: random.Random, contacts: _Contacts, organizers: list[Organizer],
                 anchor: datetime, config: SeedConfig, live: bool) -> None:
    keys = state.keys
    experts = [o for o in organizers if "G2A" in o.products] or organizers
    expert = experts[int(rng.random() * len(experts))]
    first, last, email = (contacts.pool[int(rng.random() * len(contacts.pool))]
                          if rng.random() < 0.5 else contacts.fresh())
    ticket = 10_000 + int(rng.random() * 89_999)
    if live:
        created = anchor - timedelta(minutes=5 + int(rng.random() * 20))
        status = "waiting" if rng.random() < 0.5 else "active"
    else:
        created = anchor - timedelta(days=1 + int(rng.random() * max(1, min(config.history_days, 60) - 1)),
                                     minutes=int(rng.random() * 600))
        outcomes = ("complete",) * 8 + ("abandoned", "notStarted")
        status = outcomes[int(rng.random() * len(outcomes))]
    session = AssistSession(
        session_id=keys.digits(10),
        account_key=expert.account_key,
        expert_key=expert.organizer_key,
        session_type="screen_sharing",
        status=status,
        created_at=created.replace(microsecond=0),
        start_token=f"{rng.getrandbits(64):016x}",
        customer_name=f"{first} {last}",
        customer_email=email,
        partner_object=f"INC-{ticket}",
        partner_object_url=f"https://crm.example.com/tickets/{ticket}",
        portal=PORTALS[int(rng.random() * len(PORTALS))],
        custom_fields={
            "Product": ("Liaison Cloud", "Liaison On-Premise", "Mobile app")[int(rng.random() * 3)],
            "Customer ID": f"C-{int(rng.random() * 90000) + 10000}",
        },
    )
    while session.session_id in state.assist_sessions:
        session.session_id = keys.digits(10)
    if status in ("waiting", "active", "complete", "abandoned"):
        session.started_at = session.created_at + timedelta(seconds=20 + int(rng.random() * 60))
    if status in ("active", "complete"):
        session.customer_joined_at = session.started_at + timedelta(seconds=30 + int(rng.random() * 240))
        t = session.customer_joined_at
        for line in CHAT_LINES[: 2 + int(rng.random() * (len(CHAT_LINES) - 1))]:
            who = expert.name if CHAT_LINES.index(line) % 2 == 0 else session.customer_name
            kind = "file_transfer" if "transferring" in line else "chat"
            session.events.append(AssistEvent(t, kind, who, line))
            t += timedelta(seconds=20 + int(rng.random() * 120))
    if status == "complete":
        session.ended_at = session.customer_joined_at + timedelta(minutes=5 + int(rng.random() * 40))
        session.resolution = RESOLUTIONS[int(rng.random() * len(RESOLUTIONS))]
        if rng.random() < 0.7:
            session.rating = (5, 5, 4, 4, 3, 2, 1)[int(rng.random() * 7)]
            session.feedback = FEEDBACK[int(rng.random() * len(FEEDBACK))]
        session.recording = rng.random() < 0.6
        session.notes = f"Ticket {session.partner_object}: {session.resolution}."
    elif status == "abandoned":
        session.ended_at = session.started_at + timedelta(minutes=2 + int(rng.random() * 10))
    state.add_assist_session(session)
    if status == "waiting":
        state.queue.append(QueuedCustomer(session.session_id, session.customer_name, session.portal,
                                          session.started_at or session.created_at))


__all__ = ["SeedConfig", "ascii_slug", "populate"]
