"""Services other features call: connect, register, cancel, join and start links, support sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from liaison.contacts.models import Activity, Contact
from liaison.core.errors import ValidationFailed
from liaison.core.http import ProviderError
from liaison.integrations import services as framework
from liaison.integrations.goto import services
from liaison.integrations.goto.models import AssistSession, Event, Registration
from tests.integrations.goto.conftest import connect, create_account, slot, sync

pytestmark = pytest.mark.postgres


@pytest.fixture
def ada(db):
    return Contact.objects.create(email="Ada@Example.com", email_key="ada@example.com", first_name="Ada",
                                  last_name="Lovelace")


def upcoming(account, sandbox, product="webinar", **kw):
    if product == "webinar":
        remote = sandbox.add_webinar("Registrations", [slot(sandbox, days=4)], **kw)[0]
        key = remote.webinar_key
    else:
        remote = sandbox.add_training("Course", [slot(sandbox, days=4)])
        key = remote.training_key
    sync(account, product=product, id=str(key))
    return remote, Event.objects.get(product=product, provider_key=str(key))


def test_discovering_the_account_reads_keys_and_switches_off_unlicensed_products(db, sandbox, admin_user):
    integration = create_account(admin_user)
    sandbox.default_organizer().products = ("G2W", "G2M")
    message = connect(integration, sandbox)
    organizer = sandbox.default_organizer()
    assert integration.account["organizer_key"] == str(organizer.organizer_key)
    assert integration.account["account_key"] == str(organizer.account_key)
    assert integration.account["email"] == organizer.email
    assert integration.features == {"webinar": True, "training": False, "meeting": True, "assist": False}
    assert "Switched off (no licence for this user): GoToTraining, GoToAssist." in message
    twin = create_account(admin_user, "Twin")
    assert "is connected to the same GoTo user" in connect(twin, sandbox)


def test_register_a_contact_for_a_webinar(account, sandbox, ada):
    remote, event = upcoming(account, sandbox)
    outcome = services.register_contact(event, ada, source="form")
    assert outcome.created and outcome.join_url.startswith("http")
    registrant = remote.registrants[int(outcome.registration.registrant_key)]
    assert (registrant.email, registrant.first_name) == ("Ada@Example.com", "Ada")
    assert outcome.registration.source == "form" and outcome.registration.status == "approved"
    assert Activity.objects.filter(kind="goto.webinar.registered", contact=ada).count() == 1
    assert services.join_url(event, ada) == outcome.join_url
    # Asking again: already registered, no second call, same registration.
    calls = sandbox.calls.total
    again = services.register_contact(event, ada, source="campaign")
    assert not again.created and again.registration.pk == outcome.registration.pk and sandbox.calls.total == calls


def test_a_duplicate_registrant_is_found_not_failed(account, sandbox, ada):
    remote, event = upcoming(account, sandbox)
    sandbox.add_registrant(remote.webinar_key, "ada@example.com", "Ada", "Lovelace")  # registered elsewhere
    outcome = services.register_contact(event, ada)
    assert not outcome.created
    assert outcome.registration.registrant_key == str(remote.by_email["ada@example.com"])
    assert outcome.join_url and Registration.objects.count() == 1


def test_a_duplicate_training_registrant_comes_back_with_goto_s_key(account, sandbox, ada):
    remote, event = upcoming(account, sandbox, product="training")
    existing = sandbox.add_training_registrant(remote.training_key, "ada@example.com", "Ada", "Lovelace")
    outcome = services.register_contact(event, ada)
    assert not outcome.created and outcome.registration.registrant_key == str(existing.registrant_key)
    assert outcome.registration.confirmation_url and outcome.join_url


def test_a_manual_approval_webinar_registers_as_waiting(account, sandbox, ada):
    _, event = upcoming(account, sandbox, approval_type="MANUAL")
    assert services.register_contact(event, ada).registration.status == "waiting"


def test_registration_refusals_in_words(account, sandbox, ada):
    _, event = upcoming(account, sandbox)
    nameless = Contact.objects.create(email="x@example.com", email_key="x@example.com")
    with pytest.raises(ValidationFailed) as info:
        services.register_contact(event, nameless)
    assert info.value.errors["first_name"] == ["GoToWebinar needs a first name to register someone."]
    meeting = Event.objects.create(integration=account, product="meeting", provider_key="1", title="M")
    with pytest.raises(ValidationFailed) as info:
        services.register_contact(meeting, ada)
    assert "has no registration" in info.value.errors["event"][0]
    training = sandbox.add_training("Over", [(sandbox.now() - timedelta(days=2), sandbox.now() - timedelta(days=2)
                                              + timedelta(hours=1))])
    over = Event.objects.create(integration=account, product="training", provider_key=str(training.training_key),
                                title="Over")
    with pytest.raises(ProviderError) as info:
        services.register_contact(over, ada)
    assert str(info.value).startswith("This training is over")
    framework.update_integration(account, published=False)
    with pytest.raises(ValidationFailed) as info:
        services.register_contact(event, ada)
    assert "unpublished" in info.value.errors["__all__"][0]


def test_cancel_a_registration(account, sandbox, ada):
    remote, event = upcoming(account, sandbox)
    registration = services.register_contact(event, ada).registration
    cancelled = services.cancel_registration(registration)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at
    assert "ada@example.com" not in remote.by_email
    assert services.join_url(event, ada) == ""
    assert Activity.objects.filter(kind="goto.webinar.cancelled", contact=ada).count() == 1


def test_start_links_for_each_product(account, sandbox):
    sync(account)
    for product in ("webinar", "training", "meeting"):
        event = Event.objects.filter(product=product).exclude(status="cancelled").exclude(
            provider_key__startswith="s").first()
        assert services.start_url(event).startswith("http://goto.test/goto")


def test_create_a_support_session_for_a_contact(account, sandbox, ada):
    session = services.create_assist_session(account, contact=ada, partner_object="INC-7",
                                             partner_object_url="https://crm.example.com/7")
    assert session.contact == ada and session.status == "notStarted"
    assert session.launch_url and session.customer_join_url and session.partner_object == "INC-7"
    remote = sandbox.state.assist_sessions[session.session_id]
    assert (remote.customer_email, remote.customer_name) == ("Ada@Example.com", "Ada Lovelace")
    sandbox.start_assist_session(session.session_id)
    sandbox.end_assist_session(session.session_id)
    sync(account, product="assist")
    session.refresh_from_db()
    assert session.status == "complete" and session.launch_url
    assert Activity.objects.filter(kind="goto.assist.session", contact=ada).count() == 1
    assert AssistSession.objects.filter(session_id=session.session_id).count() == 1


def test_sync_one_event_queues_a_job(account, sandbox, run_on_commit):
    _, event = upcoming(account, sandbox)
    with run_on_commit():
        job = services.sync_event(event)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.params["options"] == {"product": "webinar", "id": event.provider_key}
