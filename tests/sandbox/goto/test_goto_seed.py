"""The deterministic seed generator."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from liaison.sandbox.common import OffsetClock
from liaison.sandbox.goto import GoToSandbox, SeedConfig
from liaison.sandbox.goto.state import GoToState

CONFIG = SeedConfig(organizers=3, webinars=40, registrants_per_webinar=60, trainings=6, meetings=8,
                    assist_sessions=12, series_ratio=0.2, sequence_ratio=0.2)


def _sandbox(seed: int, now: datetime, config: SeedConfig = CONFIG) -> GoToSandbox:
    return GoToSandbox(seed=seed, config=config, clock=OffsetClock(lambda: now), deliver=lambda *a: 200)


def _dump(sandbox: GoToSandbox) -> bytes:
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url="http://sandbox")
    out = []
    window = {"fromTime": "2000-01-01T00:00:00Z", "toTime": "2100-01-01T00:00:00Z", "size": 200}
    for organizer in sandbox.state.organizers.values():
        auth = {"Authorization": f"Bearer {sandbox.mint_token(organizer.organizer_key)['access_token']}"}
        ok = organizer.organizer_key
        listing = client.get(f"/G2W/rest/v2/organizers/{ok}/webinars", params=window, headers=auth)
        out.append(listing.content)
        for item in listing.json()["_embedded"]["webinars"]:
            out.append(client.get(f"/G2W/rest/v2/organizers/{ok}/webinars/{item['webinarKey']}/registrants",
                                  headers=auth).content)
            out.append(client.get(f"/G2W/rest/v2/organizers/{ok}/webinars/{item['webinarKey']}/attendees",
                                  params={"size": 200}, headers=auth).content)
        out.append(client.get(f"/G2T/rest/organizers/{ok}/trainings", headers=auth).content)
        dates = {"startDate": window["fromTime"], "endDate": window["toTime"]}
        out.append(client.get("/G2M/rest/historicalMeetings", params=dates, headers=auth).content)
        out.append(client.get("/G2A/rest/v1/sessions", params=window, headers=auth).content)
    return b"\n".join(out)


def test_same_seed_same_data():
    now = datetime(2026, 3, 2, 10, 17, tzinfo=UTC)
    first = _dump(_sandbox(42, now))
    assert first == _dump(_sandbox(42, now))
    # Times are relative to "now" floored to the hour: the same within the hour.
    assert first == _dump(_sandbox(42, now + timedelta(minutes=40)))
    assert first != _dump(_sandbox(43, now))


def test_reset_gives_the_same_state_back():
    now = datetime(2026, 3, 2, 10, 17, tzinfo=UTC)
    sandbox = _sandbox(5, now)
    before = _dump(sandbox)
    [w] = sandbox.add_webinar("Extra")
    sandbox.add_registrant(w.webinar_key, "extra@example.com")
    sandbox.reset()
    assert _dump(sandbox) == before


def test_sizes_and_shapes():
    now = datetime(2026, 3, 2, 10, 17, tzinfo=UTC)
    state = _sandbox(1, now).state
    counts = state.counts()
    assert counts["organizers"] == 3 and counts["webinars"] == 40
    assert counts["webinarRegistrants"] == 40 * 60
    assert counts["trainings"] == 6 and counts["trainingRegistrants"] == 6 * 20
    assert counts["meetings"] == 8 and counts["assistSessions"] == 12
    types = Counter(w.type for w in state.webinars.values())
    assert types["series"] >= 2 and types["sequence"] >= 1 and types["single_session"] >= 10
    assert all(len(w.times) >= 2 for w in state.webinars.values() if w.type == "sequence")
    for key, members in state.recurrences.items():
        assert all(state.webinars[m].recurrence_key == key for m in members)
    # Past, live and upcoming webinars.
    assert any(w.last_end < now for w in state.webinars.values())
    assert sum(1 for w in state.webinars.values() if w.in_session(now)) == 1
    assert any(w.first_start > now for w in state.webinars.values())
    # Unique e-mails within an event, shared contacts across events.
    emails = Counter()
    for w in state.webinars.values():
        event_emails = [r.email.lower() for r in w.registrants.values()]
        assert len(event_emails) == len(set(event_emails))
        emails.update(event_emails)
    assert max(emails.values()) >= 3
    # Attendance close to the ratio (on approved registrants of ended sessions).
    attended = total = 0
    for s in state.sessions.values():
        if s.end <= now:
            w = state.webinars[s.webinar_key]
            total += sum(1 for r in w.registrants.values() if r.status == "APPROVED")
            attended += len(s.attendance)
    assert 0.5 < attended / total < 0.7
    multi = sum(1 for s in state.sessions.values() for iv in s.attendance.values() if len(iv) > 1)
    assert multi > 0
    # Assist outcomes.
    statuses = Counter(s.status for s in state.assist_sessions.values())
    assert statuses["complete"] >= 5
    assert any(s.rating for s in state.assist_sessions.values())
    assert all(s.resolution for s in state.assist_sessions.values() if s.status == "complete")


def test_every_key_is_a_large_non_float_exact_integer():
    state: GoToState = _sandbox(2, datetime(2026, 3, 2, tzinfo=UTC)).state
    keys = list(state.organizers) + list(state.accounts) + list(state.webinars) + list(state.sessions)
    keys += [r for w in state.webinars.values() for r in w.registrants]
    keys += list(state.trainings) + list(state.training_sessions)
    for key in keys:
        assert 2**53 < key < 2**63
        assert int(float(key)) != key
    assert len(keys) == len(set(keys))


def test_empty_and_invalid_configs():
    empty = SeedConfig(webinars=0, trainings=0, meetings=0, assist_sessions=0, live_webinars=0)
    state = _sandbox(1, datetime(2026, 3, 2, tzinfo=UTC), empty).state
    assert state.counts()["webinars"] == 0 and len(state.organizers) == 3
    with pytest.raises(ValueError):
        SeedConfig.from_dict({"attendance_ratio": 1.5})
    with pytest.raises(ValueError):
        SeedConfig.from_dict({"accounts": 2, "organizers": 1})
    with pytest.raises(ValueError):
        SeedConfig.from_dict({"g2a_capabilities": ["teleport"]})
    config = SeedConfig.from_dict({"webinars": "3", "attendance_ratio": "0.5", "accounts": 2, "organizers": 4})
    assert config.webinars == 3 and config.attendance_ratio == 0.5
    state = _sandbox(1, datetime(2026, 3, 2, tzinfo=UTC), config).state
    first, second = state.accounts.values()
    assert first.g2a_capabilities and not second.g2a_capabilities
    assert sum(o.is_admin for o in state.organizers.values()) == 2
