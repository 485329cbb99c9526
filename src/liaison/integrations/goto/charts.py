"""The attendance chart: how many people were in each session, minute by minute (server-side SVG)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from liaison.integrations.goto.client import parse_instant
from liaison.integrations.goto.models import Attendance, Event, Session

WIDTH = 600
HEIGHT = 140
BUCKETS = 60


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    at: object  # datetime of the bucket's start


@dataclass
class SessionChart:
    session: Session
    bars: list[Bar]
    peak: int
    attendees: int
    width: int = WIDTH
    height: int = HEIGHT


def attendance_charts(event: Event, sessions: list[Session], buckets: int = BUCKETS) -> list[SessionChart]:
    """Per session, people present in each of ``buckets`` slices (from the real join/leave times)."""
    intervals = defaultdict(list)
    for session_id, rows in Attendance.objects.filter(event=event).values_list("session_id", "intervals"):
        intervals[session_id].append(rows)
    charts = []
    for session in sessions:
        if not session.starts_at or not session.ends_at or session.ends_at <= session.starts_at:
            continue
        span = (session.ends_at - session.starts_at) / buckets
        counts = [0] * buckets
        people = intervals.get(session.pk, [])
        for person in people:
            present = [False] * buckets
            for item in person:
                join = parse_instant(item["join"])
                leave = parse_instant(item["leave"]) if item.get("leave") else session.ends_at
                first = max(0, int((join - session.starts_at) / span))
                last = min(buckets - 1, int((leave - session.starts_at) / span))
                for index in range(first, last + 1):
                    present[index] = True
            for index, here in enumerate(present):
                counts[index] += here
        peak = max(counts) if counts else 0
        step = WIDTH / buckets
        bars = []
        for index, count in enumerate(counts):
            height = (HEIGHT - 20) * count / peak if peak else 0
            bars.append(Bar(x=round(index * step, 2), y=round(HEIGHT - 20 - height, 2), width=round(step * 0.85, 2),
                            height=round(height, 2), count=count, at=session.starts_at + span * index))
        charts.append(SessionChart(session=session, bars=bars, peak=peak, attendees=len(people)))
    return charts
