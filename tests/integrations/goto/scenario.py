"""A small GoTo world built in the sandbox, then synchronised: facts whose segments are known.

Webinars (account 1 unless said):
  A  "Alpha" 3 days ago: ann (40 min), bob (10 min), cat (no show)
  B  "Beta" sequence 36 h and 12 h ago: ann (no show), dan (20 + 20 min over both sessions)
  C  "Gamma" in 5 days: eve, fay (fay cancelled)
  D  "Delta" (account 2, another organizer) 40 h ago: kim (50 min)
Training T 2 days ago: gus (45 min), hank (no show). Meeting M yesterday: hal (30 min).
GoToAssist: ivy (customer joined, 25 min, complete), jon (abandoned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from liaison.contacts.models import Contact
from liaison.integrations.goto import services
from liaison.integrations.goto.models import Event, Registration
from tests.integrations.goto.conftest import connect, create_account, sync

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
PEOPLE = ("ann", "bob", "cat", "dan", "eve", "fay", "kim", "gus", "hank", "hal", "ivy", "jon")


@dataclass
class World:
    sandbox: object
    account: object
    account2: object
    keys: dict[str, str] = field(default_factory=dict)

    def email(self, name: str) -> str:
        return f"{name}@people.test"

    def contact(self, name: str) -> Contact:
        return Contact.objects.get(email_key=self.email(name))

    def names(self, ids) -> set[str]:
        """Our named people among contact ids (the sandbox's seeded people are left out)."""
        by_id = dict(Contact.objects.filter(pk__in=list(ids)).values_list("pk", "email_key"))
        return {by_id[i].split("@")[0] for i in by_id if by_id[i].endswith("@people.test")}


def build(sandbox, admin_user) -> World:
    sb = sandbox
    now = sb.now().replace(second=0, microsecond=0)
    world = World(sandbox=sb, account=create_account(admin_user), account2=create_account(admin_user, "Second GoTo"))
    first, second = sb.default_organizer(), next(o for o in sb.state.organizers.values()
                                             if o.organizer_key != sb.default_organizer().organizer_key)
    connect(world.account, sb)
    connect(world.account2, sb, user=second.email)

    def person(name):
        return world.email(name), name.title(), "Tester"

    def webinar(title, times, names, organizer=first, **kw):
        remote = sb.add_webinar(title, times, organizer=organizer.organizer_key, **kw)[0]
        for name in names:
            sb.add_registrant(remote.webinar_key, *person(name), registration_date=times[0][0] - timedelta(days=7))
        return remote

    a_start = now - timedelta(days=3)
    a = webinar("Alpha", [(a_start, a_start + HOUR)], ("ann", "bob", "cat"))
    sb.simulate_session(a.webinar_key, {world.email("ann"): [(a_start, a_start + 40 * MINUTE)],
                                        world.email("bob"): [(a_start + 5 * MINUTE, a_start + 15 * MINUTE)]},
                        start=a_start, end=a_start + HOUR)
    b1, b2 = now - timedelta(hours=36), now - timedelta(hours=12)
    b = webinar("Beta", [(b1, b1 + HOUR), (b2, b2 + HOUR)], ("ann", "dan"), type="sequence")
    sb.simulate_session(b.webinar_key, {world.email("dan"): [(b1, b1 + 20 * MINUTE)]}, start=b1, end=b1 + HOUR)
    sb.simulate_session(b.webinar_key, {world.email("dan"): [(b2, b2 + 20 * MINUTE)]}, start=b2, end=b2 + HOUR)
    c_start = now + timedelta(days=5)
    c = webinar("Gamma", [(c_start, c_start + HOUR)], ("eve", "fay"))
    d_start = now - timedelta(hours=40)
    d = webinar("Delta", [(d_start, d_start + HOUR)], ("kim",), organizer=second)
    sb.simulate_session(d.webinar_key, {world.email("kim"): [(d_start, d_start + 50 * MINUTE)]},
                        start=d_start, end=d_start + HOUR)

    t_start = now - timedelta(days=2)
    later = now + timedelta(days=1)  # GoToTraining refuses registrations once over: register first, then
    t = sb.add_training("Training T", [(later, later + HOUR)], organizer=first.organizer_key)
    for name in ("gus", "hank"):
        sb.add_training_registrant(t.training_key, *person(name), registration_date=t_start - timedelta(days=3))
    t.times = [(t_start, t_start + HOUR)]  # ... the training took place two days ago
    sb.simulate_training_session(t.training_key, {world.email("gus"): [(t_start, t_start + 45 * MINUTE)]},
                                 start=t_start, end=t_start + HOUR)

    m_start = now - timedelta(days=1)
    m = sb.add_meeting("Meeting M", m_start, m_start + HOUR, organizer=first.organizer_key)
    sb.simulate_meeting_session(m.meeting_id, [("Hal Tester", world.email("hal"), m_start, m_start + 30 * MINUTE)],
                                start=m_start, end=m_start + HOUR)

    jon = sb.add_assist_session("Jon Tester", world.email("jon"), expert=first.organizer_key)
    sb.start_assist_session(jon.session_id, customer_joins=False)
    sb.end_assist_session(jon.session_id)
    ivy = sb.add_assist_session("Ivy Tester", world.email("ivy"), expert=first.organizer_key)
    sb.start_assist_session(ivy.session_id)
    sb.advance(25 * MINUTE)  # (sessions are listed by creation time: both were created before this)
    sb.end_assist_session(ivy.session_id, resolution="resolved")
    sb.advance(-25 * MINUTE)

    for account in (world.account, world.account2):
        run = sync(account)
        assert run.status in ("succeeded", "completed"), (run.status, run.errors)
    world.keys = {"A": str(a.webinar_key), "B": str(b.webinar_key), "C": str(c.webinar_key),
                  "D": str(d.webinar_key), "T": str(t.training_key), "M": str(m.meeting_id),
                  "ivy": str(ivy.session_id), "jon": str(jon.session_id)}
    fay = Registration.objects.get(event__provider_key=world.keys["C"], email_key=world.email("fay"))
    services.cancel_registration(fay)
    assert Event.objects.filter(provider_key=world.keys["D"], integration=world.account2).exists()
    return world
