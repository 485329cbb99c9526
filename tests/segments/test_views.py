"""The segments UI: list, HTMX builder, errors next to conditions, members, static changes, CLI."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from liaison.contacts.models import Field
from liaison.segments import services
from liaison.segments.models import Membership, Segment, StaticMember
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

BUILDER = {"name": "Acme people", "description": "", "f-match": "all", "f-n": "1", "f-0-kind": "condition",
           "f-0-filter": "contact.email", "f-0-operator": "ends_with", "f-0-value": "@acme.com"}


@pytest.fixture
def acme(db, django_capture_on_commit_callbacks):
    ContactFactory(email="a@acme.com", first_name="Ann")
    ContactFactory(email="b@other.org", first_name="Bob")
    with django_capture_on_commit_callbacks(execute=True):
        return services.save_segment({"name": "Acme", "filters": {"match": "all", "rules": [
            {"filter": "contact.email", "operator": "ends_with", "value": "@acme.com"}]}})


def test_create_a_segment_with_the_builder(marketer_client, django_capture_on_commit_callbacks):
    ContactFactory(email="a@acme.com")
    page = marketer_client.get("/segments/new/").content.decode()
    assert "+ Condition" in page and "only contacts added by hand" in page
    added = marketer_client.post("/segments/builder/", {"f-n": "0", "op": "add-condition:f"}).content.decode()
    assert '<optgroup label="Contact">' in added and '<optgroup label="Activity">' in added
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post("/segments/new/", BUILDER)
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    assert segment.filters == {"match": "all", "rules": [
        {"filter": "contact.email", "operator": "ends_with", "value": "@acme.com"}]}
    detail = marketer_client.get(response["Location"]).content.decode()
    assert "E-mail ends with “@acme.com”" in detail and "a@acme.com" in detail


def test_builder_errors_are_shown_next_to_the_condition_and_nothing_is_saved(marketer_client):
    response = marketer_client.post("/segments/new/", {**BUILDER, "name": "", "f-0-filter": "contact.points",
                                                       "f-0-operator": "gt", "f-0-value": "lots"})
    html = response.content.decode()
    assert response.status_code == 422
    assert "A segment needs a name." in html
    condition = html[html.index('id="cond-f-0"'):html.index("+ Condition")]
    assert "&#x27;lots&#x27; is not a number." in condition
    assert not Segment.objects.exists()


def test_builder_buttons_redraw_the_tree(marketer_client):
    add = marketer_client.post("/segments/builder/", {**BUILDER, "op": "add-group:f"}).content.decode()
    assert 'name="f-1-kind" value="group"' in add and 'name="f-1-0-filter"' in add and 'value="any" selected' in add
    changed = marketer_client.post("/segments/builder/", {**BUILDER, "f-0-filter": "contact.created_at"})
    html = changed.content.decode()
    # the operator did not apply to a date: the first date operator is chosen and a date input drawn
    assert '<option value="eq" selected>on</option>' in html and 'type="date" name="f-0-value"' in html
    removed = marketer_client.post("/segments/builder/", {**BUILDER, "op": "remove:f-0"}).content.decode()
    assert 'name="f-0-filter"' not in removed and "only contacts added by hand" in removed
    activity = marketer_client.post("/segments/builder/", {**BUILDER, "f-0-filter": "activity.kind"}).content.decode()
    assert 'type="checkbox" name="f-0-value" value="contact.note"' in activity


def test_long_choice_lists_are_searched_and_paged(marketer_client):
    Field.objects.create(alias="country_code", label="Country code", type="select",
                         choices=[{"value": f"c{i:03d}", "label": f"Country {i:03d}"} for i in range(120)])
    tree = {**BUILDER, "f-0-filter": "contact.custom.country_code", "f-0-operator": "in"}
    html = marketer_client.post("/segments/builder/", tree).content.decode()
    assert 'name="f-0-search"' in html and "Country 001" not in html
    found = marketer_client.get("/segments/filters/contact.custom.country_code/choices/",
                                {"path": "f-0", "f-0-search": "country 05", "f-0-value": "c050"}).content.decode()
    assert 'value="c051"' in found and 'value="c050"' not in found and "Country 150" not in found
    first = marketer_client.get("/segments/filters/contact.custom.country_code/choices/", {"path": "f-0"})
    assert "More…" in first.content.decode()
    assert marketer_client.get("/segments/filters/nope/choices/", {"path": "f-0"}).status_code == 404
    assert marketer_client.get("/segments/filters/contact.email/choices/", {"path": "x"}).status_code == 404


def test_edit_keeps_an_unavailable_condition(marketer_client, acme):
    stored = {"filter": "gone.filter", "operator": "in", "value": ["1"]}
    Segment.objects.filter(pk=acme.pk).update(filters={"match": "all", "rules": [stored]})
    page = marketer_client.get(f"/segments/{acme.pk}/edit/").content.decode()
    assert "Unavailable" in page and "gone.filter" in page
    detail = marketer_client.get(f"/segments/{acme.pk}/").content.decode()
    assert "is unavailable" in detail
    response = marketer_client.post(f"/segments/{acme.pk}/edit/", {
        "name": "Acme renamed", "f-match": "all", "f-n": "1", "f-0-kind": "condition",
        "f-0-filter": "", "f-0-stored": json.dumps(stored)})
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.name == "Acme renamed" and acme.filters["rules"] == [stored]


def test_members_are_listed_removed_with_undo_and_added_by_hand(marketer_client, acme):
    ann = Membership.objects.get(segment=acme).contact
    page = marketer_client.get(f"/segments/{acme.pk}/").content.decode()
    assert "a@acme.com" in page and "filters" in page
    marketer_client.post(f"/segments/{acme.pk}/members/remove/", {"contact_id": ann.pk})
    page = marketer_client.get(f"/segments/{acme.pk}/").content.decode()
    assert "Undo" in page and StaticMember.objects.get().included is False
    marketer_client.post(f"/segments/{acme.pk}/members/reset/", {"contact_id": ann.pk})
    assert Membership.objects.filter(segment=acme, contact=ann).exists() and not StaticMember.objects.exists()
    response = marketer_client.post(f"/segments/{acme.pk}/members/add/",
                                    {"emails": "b@other.org\nnew@x.org\nnot an address", "create": ""})
    assert response.status_code == 302
    assert set(Membership.objects.filter(segment=acme).values_list("contact__email_key", flat=True)) == {
        "a@acme.com", "b@other.org"}
    upload = SimpleUploadedFile("list.csv", b"Name,Email\nNew,new@x.org\n", content_type="text/csv")
    marketer_client.post(f"/segments/{acme.pk}/members/add/", {"file": upload, "create": "1"})
    assert Membership.objects.filter(segment=acme, contact__email_key="new@x.org", source="static").exists()
    acme.refresh_from_db()
    assert acme.member_count == 3


def test_contact_page_and_contact_list_show_segments(marketer_client, acme):
    bob = ContactFactory(email="c@other.org")
    ann = Membership.objects.get(segment=acme).contact
    page = marketer_client.get(f"/contacts/{ann.pk}/").content.decode()
    assert 'id="contact-segments"' in page and f'href="/segments/{acme.pk}/"' in page
    marketer_client.post("/segments/members/add/", {"segment": acme.pk, "contact_id": bob.pk,
                                                    "next": f"/contacts/{bob.pk}/"})
    assert Membership.objects.filter(segment=acme, contact=bob, source="static").exists()
    listing = marketer_client.get(f"/contacts/?segment={acme.pk}").content.decode()
    assert "a@acme.com" in listing and "c@other.org" in listing and "b@other.org" not in listing
    assert f'<option value="{acme.pk}" selected>Acme</option>' in listing
    assert "No contacts match" in marketer_client.get("/contacts/?segment=abc").content.decode()
    assert "a@acme.com" not in marketer_client.get("/contacts/export.csv?segment=999").getvalue().decode()


def test_rebuild_now_shows_progress_and_delete_asks_first(marketer_client, acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(f"/segments/{acme.pk}/rebuild/")
    assert response.status_code == 302
    fragment = marketer_client.get(f"/segments/{acme.pk}/?fragment=rebuild", HTTP_HX_REQUEST="true")
    assert 'id="rebuild-status"' in fragment.content.decode() and "Succeeded" in fragment.content.decode()
    page = marketer_client.get(f"/segments/{acme.pk}/").content.decode()
    assert 'data-confirm="Delete the segment' in page
    marketer_client.post(f"/segments/{acme.pk}/delete/")
    assert not Segment.objects.exists()


def test_readers_cannot_change_segments(client, reader, acme):
    client.force_login(reader)
    assert client.get("/segments/").status_code == 200
    assert client.post(f"/segments/{acme.pk}/rebuild/").status_code == 403
    assert client.post("/segments/new/", BUILDER).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_cli_rebuilds_with_a_progress_bar(acme):
    out = io.StringIO()
    call_command("segments", "rebuild", "--segment", str(acme.pk), stdout=out)
    call_command("segments", "rebuild", stdout=out)
    call_command("segments", "list", stdout=out)
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no segment #999"):
        call_command("segments", "rebuild", "--segment", "999")
