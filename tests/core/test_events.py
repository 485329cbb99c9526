"""The contact-event bus: an outbox written with the facts, handed to consumers after the commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from liaison.core import events
from liaison.core.contributions import EventConsumer, PointEvent
from liaison.core.models import EventBacklog, EventRecord
from liaison.core.registry import registry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


class Recorder:
    def __init__(self, fail: int = 0):
        self.batches: list[list] = []
        self.fail = fail

    def __call__(self, batch):
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the consumer's database table is missing")
        self.batches.append(list(batch))

    @property
    def events(self):
        return [e for batch in self.batches for e in batch]


TEST_EVENT = PointEvent(key="tests.waved", label="Waves", group="Tests", subject="hand", subject_label="Hand")


def test_an_event_reaches_consumers_after_the_commit_with_its_data():
    seen = Recorder()
    with registry.override(TEST_EVENT, EventConsumer(key="tests.recorder", label="Recorder", handle=seen)):
        with transaction.atomic():
            events.announce("tests.waved", [3, 1, 3], ref="tests:wave:1", data={"hand": "left"})
            events.announce("tests.waved", [2], ref="tests:wave:2", data={"hand": 7})
            assert seen.events == []  # nothing before the commit
        assert [(e.key, e.contact_ids, e.ref) for e in seen.events] == [
            ("tests.waved", (1, 3), "tests:wave:1"), ("tests.waved", (2,), "tests:wave:2")]
        assert seen.events[0].subject_value("hand") == "left" and seen.events[1].subject_value("hand") == "7"
        assert len(seen.batches) == 1  # one dispatch for the whole transaction
    assert not EventRecord.objects.filter(dispatched_at__isnull=True).exists()


def test_a_rolled_back_fact_announces_nothing():
    seen = Recorder()
    with registry.override(TEST_EVENT, EventConsumer(key="tests.recorder", label="Recorder", handle=seen)):
        with pytest.raises(ZeroDivisionError):
            with transaction.atomic():
                events.announce("tests.waved", [1], ref="tests:wave:1")
                1 / 0
        events.dispatch()
    assert seen.events == [] and not EventRecord.objects.exists()


def test_unknown_event_keys_are_refused():
    with pytest.raises(events.UnknownEvent, match="not a registered point event"):
        events.announce("tests.no_such_event", [1], ref="x")


def test_large_audiences_are_split_into_records():
    seen = Recorder()
    with registry.override(TEST_EVENT, EventConsumer(key="tests.recorder", label="Recorder", handle=seen)):
        events.announce("tests.waved", range(1, 2501), ref="tests:wave:big")
    assert EventRecord.objects.count() == 3
    assert sorted(i for e in seen.events for i in e.contact_ids) == list(range(1, 2501))


def test_consumers_only_get_the_keys_they_ask_for():
    other = PointEvent(key="tests.nodded", label="Nods", group="Tests")
    waves, everything = Recorder(), Recorder()
    with registry.override(TEST_EVENT, other,
                           EventConsumer(key="tests.waves", label="Waves", handle=waves, keys=("tests.waved",)),
                           EventConsumer(key="tests.all", label="All", handle=everything)):
        with transaction.atomic():
            events.announce("tests.waved", [1], ref="a")
            events.announce("tests.nodded", [1], ref="b")
    assert [e.key for e in waves.events] == ["tests.waved"]
    assert [e.key for e in everything.events] == ["tests.waved", "tests.nodded"]


def test_a_failing_consumer_holds_back_nobody_and_gets_its_events_again():
    healthy, failing = Recorder(), Recorder(fail=1)
    with registry.override(TEST_EVENT, EventConsumer(key="tests.healthy", label="Healthy", handle=healthy),
                           EventConsumer(key="tests.failing", label="Failing", handle=failing)):
        events.announce("tests.waved", [1], ref="tests:wave:1")
        assert [e.ref for e in healthy.events] == ["tests:wave:1"]
        assert failing.events == []
        entry = EventBacklog.objects.get()
        assert entry.consumer == "tests.failing" and "table is missing" in entry.error
        # Not yet due: nothing happens.
        events.dispatch()
        assert failing.events == []
        EventBacklog.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
        counts = events.dispatch()
        assert counts["backlog_done"] == 1
        assert [e.ref for e in failing.events] == ["tests:wave:1"]
        assert [e.ref for e in healthy.events] == ["tests:wave:1"]  # never twice for the healthy one
    assert not EventBacklog.objects.exists()


def test_a_backlog_entry_that_fails_again_backs_off_further():
    failing = Recorder(fail=3)
    with registry.override(TEST_EVENT, EventConsumer(key="tests.failing", label="Failing", handle=failing)):
        events.announce("tests.waved", [1], ref="tests:wave:1")
        EventBacklog.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
        before = timezone.now()
        events.dispatch()
        entry = EventBacklog.objects.get()
        assert entry.attempts == 2 and entry.retry_at > before + timedelta(seconds=60)


def test_pending_events_survive_a_lost_dispatch_and_the_schedule_picks_them_up(monkeypatch):
    from liaison.core.models import Schedule

    seen = Recorder()
    with registry.override(TEST_EVENT), monkeypatch.context() as lost:
        lost.setattr(events, "request_dispatch", lambda: None)  # the dispatch message is lost
        events.announce("tests.waved", [1], ref="tests:wave:1")
    assert events.pending_count() == 1
    schedule = Schedule.objects.get(owner_key=f"builtin:{events.JOB_KIND}")
    assert schedule.kind == events.JOB_KIND and schedule.cron == "* * * * *"
    with registry.override(TEST_EVENT, EventConsumer(key="tests.recorder", label="Recorder", handle=seen)):
        events.dispatch()
    assert [e.ref for e in seen.events] == ["tests:wave:1"] and events.pending_count() == 0


def test_old_handed_over_events_are_pruned():
    with registry.override(TEST_EVENT):
        events.announce("tests.waved", [1], ref="old")
        events.announce("tests.waved", [1], ref="new")
    EventRecord.objects.update(dispatched_at=timezone.now())
    EventRecord.objects.filter(ref="old").update(created_at=timezone.now() - timedelta(days=31))
    events.dispatch()
    assert list(EventRecord.objects.values_list("ref", flat=True)) == ["new"]
