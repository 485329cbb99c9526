"""The forms UI: the builder (HTMX buttons, errors next to fields, validators), detail, submissions."""

from __future__ import annotations

import pytest

from liaison.webforms import services
from liaison.webforms.models import Form, Submission
from tests.webforms.conftest import GOOD

pytestmark = pytest.mark.django_db

BASE = {"name": "Contact us", "title": "", "slug": "", "intro": "", "submit_label": "Send", "success_message": "Thanks",
        "redirect_url": "", "published": "1", "fields-n": "2",
        "fields-0-label": "E-mail", "fields-0-key": "email", "fields-0-type": "email", "fields-0-required": "1",
        "fields-0-contact_field": "email",
        "fields-1-label": "Colour", "fields-1-key": "", "fields-1-type": "select", "fields-1-options": "red\nblue|Blue",
        "fields-1-contact_field": "", "actions-n": "1", "actions-0-key": "contact.points",
        "actions-0-c-points": "3", "actions-0-c-reason": ""}


def test_build_a_form_in_the_ui(marketer_client):
    page = marketer_client.get("/forms/new/").content.decode()
    assert 'name="fields-0-label"' in page and 'value="E-mail"' in page  # a new form starts with its e-mail field
    response = marketer_client.post("/forms/new/", BASE)
    form = Form.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/forms/{form.pk}/"
    assert [(f.key, f.type, f.required) for f in form.fields.all()] == [("email", "email", True),
                                                                        ("colour", "select", False)]
    assert form.fields.get(key="colour").options == [{"value": "red", "label": "red"},
                                                     {"value": "blue", "label": "Blue"}]
    assert form.actions.get().config == {"points": 3, "reason": ""}
    detail = marketer_client.get(response["Location"]).content.decode()
    assert f"/f/{form.slug}/embed.js" in detail and "conversion" in detail
    edit = marketer_client.get(f"/forms/{form.pk}/edit/").content.decode()
    assert "blue|Blue" in edit and 'name="actions-0-c-points"' in edit


def test_builder_errors_are_next_to_the_fields_and_validators_at_the_top(marketer_client):
    response = marketer_client.post("/forms/new/", {**BASE, "fields-1-options": "", "actions-0-c-points": "many",
                                                    "fields-0-required": ""})
    html = response.content.decode()
    assert response.status_code == 422
    assert html.index("Give at least one option.") > html.index('id="fields-1"')
    assert "valid integer" in html[html.index('id="actions-0"'):]
    assert not Form.objects.exists()
    response = marketer_client.post("/forms/new/", {**BASE, "fields-0-required": ""})
    html = response.content.decode()
    assert response.status_code == 422 and 'id="form-problems"' in html
    assert "the field mapped to the contact&#x27;s E-mail is not required" in html


def test_builder_buttons_add_move_and_remove(marketer_client):
    html = marketer_client.post("/forms/builder/", {**BASE, "op": "add-field:textarea"}).content.decode()
    assert 'name="fields-2-type" value="textarea"' in html and 'name="fields-n" value="3"' in html
    html = marketer_client.post("/forms/builder/", {**BASE, "op": "up-field:1"}).content.decode()
    assert html.index('name="fields-0-type" value="select"') < html.index('name="fields-1-type" value="email"')
    html = marketer_client.post("/forms/builder/", {**BASE, "op": "remove-action:0"}).content.decode()
    assert 'name="actions-n" value="0"' in html
    html = marketer_client.post("/forms/builder/", {**BASE, "op": "add-action:segments.add"}).content.decode()
    assert 'name="actions-1-c-segment_id"' in html
    html = marketer_client.post("/forms/builder/", {**BASE, "op": "add-field:example.plan"}).content.decode()
    assert 'value="example.plan"' in html


def test_submissions_list_detail_export_and_delete(marketer_client, signup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.submit(services.public_form(signup.slug), GOOD)
    submission = outcome.submission
    listing = marketer_client.get(f"/forms/{signup.pk}/submissions/").content.decode()
    assert "ann@example.com" in listing
    detail = marketer_client.get(f"/forms/{signup.pk}/submissions/{submission.pk}/").content.decode()
    assert "news, events" in detail and 'id="action-runs"' in detail
    export = marketer_client.get(f"/forms/{signup.pk}/submissions/export.csv")
    assert b"ann@example.com" in b"".join(export.streaming_content)
    marketer_client.post(f"/forms/{signup.pk}/submissions/{submission.pk}/delete/")
    assert not Submission.objects.exists() and Form.objects.get().submission_count == 0


def test_duplicate_and_delete(marketer_client, signup):
    response = marketer_client.post(f"/forms/{signup.pk}/duplicate/")
    copy = Form.objects.exclude(pk=signup.pk).get()
    assert response["Location"] == f"/forms/{copy.pk}/edit/" and not copy.published
    assert copy.fields.count() == signup.fields.count()
    page = marketer_client.get(f"/forms/{signup.pk}/").content.decode()
    assert 'data-confirm="Delete the form' in page
    marketer_client.post(f"/forms/{signup.pk}/delete/")
    assert not Form.objects.filter(pk=signup.pk).exists()


def test_timeline_links_to_the_submission(marketer_client, signup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.submit(services.public_form(signup.slug), GOOD)
    submission = outcome.submission
    page = marketer_client.get(f"/contacts/{submission.contact_id}/").content.decode()
    assert "Submitted the form “Sign-up”" in page
    assert f"/forms/{signup.pk}/submissions/{submission.pk}/" in page


def test_readers_see_but_cannot_build(client, reader, signup):
    client.force_login(reader)
    assert client.get("/forms/").status_code == 200
    assert client.post("/forms/new/", BASE).status_code == 403
    assert client.post(f"/forms/{signup.pk}/delete/").status_code == 403


def test_cli_lists_forms_and_exports_submissions(signup, tmp_path, django_capture_on_commit_callbacks):
    from django.core.management import CommandError, call_command

    with django_capture_on_commit_callbacks(execute=True):
        services.submit(services.public_form(signup.slug), GOOD)
    call_command("forms", "list")
    target = tmp_path / "out.csv"
    call_command("forms", "export", signup.slug, "-o", str(target))
    assert "ann@example.com" in target.read_text(encoding="utf-8")
    call_command("forms", "export", str(signup.pk), "-o", str(target))
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2  # the header and one submission
    with pytest.raises(CommandError, match="no form 'nope'"):
        call_command("forms", "export", "nope")
