"""The GoTo clients: dates, durations, keys, errors in words, expiry, malformed answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from liaison.core.http import MalformedResponse, ProviderError
from liaison.integrations.goto.client import (
    ERROR_SENTENCES,
    AlreadyRegistered,
    IdentityApi,
    Reader,
    parse_instant,
    to_seconds,
    token_expired,
)
from liaison.integrations.goto.meeting import MeetingApi
from liaison.integrations.goto.training import TrainingApi
from liaison.integrations.goto.webinar import WebinarApi

BIG = 9_007_199_254_740_993  # 2**53 + 1: a double cannot hold it


# -- pure parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("2020-03-13T10:00:00Z", datetime(2020, 3, 13, 10, 0, tzinfo=UTC)),  # G2W, G2T, G2A
    ("2020-03-13T10:00:00.250Z", datetime(2020, 3, 13, 10, 0, 0, 250000, tzinfo=UTC)),
    ("2012-12-01T09:00:00.+0000", datetime(2012, 12, 1, 9, 0, tzinfo=UTC)),  # G2M's dot without digits
    ("2016-03-23T10:00:00+01:00", datetime(2016, 3, 23, 9, 0, tzinfo=UTC)),
    ("2016-03-23T10:00:00-0230", datetime(2016, 3, 23, 12, 30, tzinfo=UTC)),
    ("2016-03-23T10:00:00", datetime(2016, 3, 23, 10, 0, tzinfo=UTC)),  # no zone: UTC
    (1584093672000, datetime(2020, 3, 13, 10, 1, 12, tzinfo=UTC)),  # webhook joinTime, epoch ms
    (Decimal(1584093672000), datetime(2020, 3, 13, 10, 1, 12, tzinfo=UTC)),
    ("1584093672000", datetime(2020, 3, 13, 10, 1, 12, tzinfo=UTC)),
])
def test_the_three_date_formats_become_utc(raw, expected):
    assert parse_instant(raw) == expected


@pytest.mark.parametrize("raw", ["", "yesterday", "2020-13-45", True, None, {"t": 1}])
def test_unreadable_dates_are_refused(raw):
    with pytest.raises(ValueError):
        parse_instant(raw)


def test_durations_are_normalised_to_seconds():
    assert to_seconds(3125, "s") == 3125  # G2W attendanceTimeInSeconds
    assert to_seconds(52, "min") == 3120  # G2T timeInSession, G2M duration
    assert to_seconds("45", "min") == 2700  # G2M historicalMeetings sends strings
    with pytest.raises(ValueError):
        to_seconds(-1, "s")


def test_a_malformed_record_is_refused_in_words():
    read = Reader("GoToWebinar", "a registrant list")
    with pytest.raises(MalformedResponse) as info:
        read.email({"email": "not-an-address"})
    assert "GoToWebinar sent a registrant list whose email is not an e-mail address" in str(info.value)
    assert "nothing was stored" in str(info.value)
    with pytest.raises(MalformedResponse) as info:
        read.key({"registrantKey": 1.5e18}, "registrantKey")
    assert "unusable registrantKey" in str(info.value) and "lost digits" in str(info.value)
    assert read.key({"registrantKey": BIG}, "registrantKey") == str(BIG)


def test_expiry_is_403_invalid_token_or_a_bare_401_never_a_product_refusal():
    def response(status, body):
        return httpx.Response(status, json=body)

    assert token_expired(response(403, {"int_err_code": "InvalidToken", "msg": "Invalid token passed"}))
    assert token_expired(response(401, {}))
    assert not token_expired(response(403, {"errorCode": "Forbidden", "description": "Not yours"}))
    assert not token_expired(response(401, {"errorCode": "Unauthorized", "description": "No seat"}))
    assert not token_expired(response(404, {"errorCode": "NotFound"}))


# -- against the sandbox ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_keys_beyond_two_to_the_53_stay_exact(account, sandbox):
    webinar = next(w for w in sandbox.state.webinars.values() if w.registrants)
    assert webinar.webinar_key > 2**53
    with WebinarApi(account) as api:
        record = api.webinar(str(webinar.webinar_key))
        page = api.registrants(record.key, 0, 200)
    assert record.key == str(webinar.webinar_key)
    assert {r.key for r in page.items} == {str(k) for k in webinar.registrants}
    assert account.account["organizer_key"] == str(sandbox.default_organizer().organizer_key)


@pytest.mark.django_db
def test_each_api_of_an_account_has_its_own_budget_of_ten_calls_per_second(account, fast_budget):
    from liaison.integrations.goto import client

    assert fast_budget == 10
    with WebinarApi(account) as webinar, TrainingApi(account) as training:
        keys = {webinar.http.budget.key, training.http.budget.key}
        assert webinar.http.budget.limits == ((client.REQUESTS_PER_SECOND, 1.0),)
    assert keys == {f"goto:account-{account.account['account_key']}:g2w",
                    f"goto:account-{account.account['account_key']}:g2t"}


@pytest.mark.django_db
def test_error_codes_become_sentences(account, sandbox):
    webinar = next(w for w in sandbox.state.webinars.values() if w.first_start > sandbox.now())
    taken = next(iter(webinar.registrants.values()))
    with WebinarApi(account) as api:
        with pytest.raises(AlreadyRegistered) as info:
            api.create_registrant(str(webinar.webinar_key), email=taken.email, first_name="A", last_name="B")
        assert str(info.value).startswith(ERROR_SENTENCES["DuplicateRegistrant"])
        assert "The user is already registered." in str(info.value)
        with pytest.raises(ProviderError) as info:
            api.webinar("1234567890123456789")
        assert info.value.status == 404 and "could not find it" in str(info.value)
    with TrainingApi(account) as api, pytest.raises(ProviderError) as info:
        api.training("1234567890123456789")
    assert info.value.code == "NoSuchTraining"
    assert str(info.value).startswith("GoToTraining has no such training: it may have been deleted.")
    assert "Bad request" not in str(info.value)


@pytest.mark.django_db
def test_an_expired_token_is_renewed_once_then_the_call_succeeds(account, sandbox):
    sandbox.faults.expire_tokens()
    with IdentityApi(account) as api:
        assert api.me()["organizer_key"] == account.account["organizer_key"]
    assert sandbox.calls.count(path="/oauth/token", status=200) == 1


@pytest.mark.django_db
def test_a_revoked_token_asks_for_reconnection(account, sandbox):
    sandbox.oauth.refresh.clear()
    sandbox.faults.expire_tokens()
    with IdentityApi(account) as api, pytest.raises(ProviderError) as info:
        api.me()
    assert "reconnect the account" in str(info.value)


@pytest.mark.django_db
def test_meeting_times_and_durations(account, sandbox):
    now = sandbox.now().replace(microsecond=0)
    meeting = sandbox.add_meeting("Board meeting", now - timedelta(hours=3), now - timedelta(hours=2))
    start = meeting.start
    sandbox.simulate_meeting_session(meeting.meeting_id, [
        ("Ada Lovelace", "ada@example.com", start, start + timedelta(minutes=20)),
        ("Ada Lovelace", "ada@example.com", start + timedelta(minutes=30), start + timedelta(minutes=45)),
    ])
    with MeetingApi(account) as api:
        rows = [r for r in api.attendees(now - timedelta(days=1), now) if r.meeting_id == str(meeting.meeting_id)]
        history = [m for m, _ in api.historical(now - timedelta(days=1), now) if m.key == str(meeting.meeting_id)]
    assert [(r.joined_at, r.duration_seconds) for r in rows] == [(start, 1200), (start + timedelta(minutes=30), 900)]
    assert history[0].times == [(meeting.start, meeting.end)]
