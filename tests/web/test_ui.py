"""The UI: forms with errors next to fields, lists, timeline paging, imports, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from liaison.contacts.models import Activity, Contact, ContactImport, Field
from liaison.contacts.services import ActivityInput, record_activities
from liaison.core.models import Job
from liaison.users.models import ApiToken, User
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_create_contact_shows_errors_next_to_fields_and_keeps_input(marketer_client):
    response = marketer_client.post("/contacts/new/", {"email": "not-an-email", "first_name": "Ann",
                                                       "phone": "call me maybe"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "is not a valid e-mail address" in html and "is not a valid phone number" in html
    assert 'value="Ann"' in html
    assert not Contact.objects.exists()


def test_create_edit_and_delete_contact(marketer_client, marketer):
    Field.objects.create(alias="tier", label="Tier", type="select", choices=[{"value": "gold", "label": "Gold"}])
    response = marketer_client.post("/contacts/new/", {"email": "ann@example.com", "first_name": "Ann",
                                                       "company": "Acme", "custom.tier": "gold"})
    contact = Contact.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    assert contact.company.name == "Acme" and contact.custom == {"tier": "gold"} and contact.owner == marketer
    page = marketer_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Contact created" in page and "Gold" not in page or "gold" in page
    marketer_client.post(f"/contacts/{contact.pk}/edit/", {"email": "ann@example.com", "first_name": "Anne",
                                                           "custom.tier": ""})
    contact.refresh_from_db()
    assert contact.first_name == "Anne" and contact.custom == {}
    marketer_client.post(f"/contacts/{contact.pk}/delete/")
    assert not Contact.objects.exists()


def test_contact_list_search_sort_and_pagination(marketer_client):
    for i in range(60):
        ContactFactory(email=f"p{i:02d}@example.com", last_name=f"Name{i:02d}")
    page1 = marketer_client.get("/contacts/?sort=email").content.decode()
    assert "p00@example.com" in page1 and "p59@example.com" not in page1 and "Page 1 of 2" in page1
    page2 = marketer_client.get("/contacts/?sort=email&page=2").content.decode()
    assert "p59@example.com" in page2
    found = marketer_client.get("/contacts/?q=Name07").content.decode()
    assert "p07@example.com" in found and "p08@example.com" not in found


def test_export_follows_the_filters(marketer_client):
    ContactFactory(email="keep@example.com", last_name="Keep")
    ContactFactory(email="drop@example.com", last_name="Drop")
    response = marketer_client.get("/contacts/export.csv?q=keep")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert "keep@example.com" in body and "drop@example.com" not in body


def test_timeline_pages_and_filters_by_kind(marketer_client):
    contact = ContactFactory()
    now = timezone.now()
    record_activities([ActivityInput(contact.pk, "contact.note", now - timedelta(minutes=i), f"note {i}", f"n{i}")
                       for i in range(30)] + [ActivityInput(contact.pk, "contact.imported", now, "Imported", "imp")])
    first = marketer_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "note 0" in first and "note 24" not in first and "Load more" in first
    cursor = first.split("before=")[1].split("&")[0].split('"')[0]
    more = marketer_client.get(f"/contacts/{contact.pk}/timeline/?before={cursor}").content.decode()
    assert "note 29" in more and "note 0" not in more
    only = marketer_client.get(f"/contacts/{contact.pk}/timeline/?kind=contact.imported").content.decode()
    assert "Imported" in only and "note 1" not in only


def test_notes_and_do_not_contact_from_the_contact_page(marketer_client):
    contact = ContactFactory()
    marketer_client.post(f"/contacts/{contact.pk}/note/", {"text": "Called, wants a demo"})
    marketer_client.post(f"/contacts/{contact.pk}/do-not-contact/", {"do_not_contact": "1", "reason": "Asked"})
    contact.refresh_from_db()
    assert contact.do_not_contact and contact.dnc_reason == "Asked"
    kinds = set(Activity.objects.filter(contact=contact).values_list("kind", flat=True))
    assert kinds == {"contact.note", "contact.do_not_contact"}


def test_import_through_the_ui_reports_bad_rows(marketer_client):
    csv = b"email,first_name\nok@example.com,Ok\nbroken,Bad\n"
    response = marketer_client.post("/imports/new/", {"file": SimpleUploadedFile("p.csv", csv)})
    imp = ContactImport.objects.get()
    assert response["Location"] == f"/imports/{imp.pk}/mapping/"
    page = marketer_client.get(f"/imports/{imp.pk}/mapping/").content.decode()
    assert "not a valid e-mail" in page  # the preview shows the bad row
    response = marketer_client.post(f"/imports/{imp.pk}/mapping/", {"column_0": "email", "column_1": "first_name",
                                                                    "action": "start"})
    assert response.status_code == 302
    job = Job.objects.get(kind="contacts.import")
    from liaison.core import jobs

    jobs.run_job(job.pk)
    detail = marketer_client.get(f"/imports/{imp.pk}/").content.decode()
    assert "not a valid e-mail" in detail and ">3<" in detail  # line 3
    errors = marketer_client.get(f"/imports/{imp.pk}/errors.csv").content.decode("utf-8-sig")
    assert errors.splitlines()[1].startswith("3,")


def test_mapping_without_email_is_refused_in_the_page(marketer_client):
    marketer_client.post("/imports/new/", {"file": SimpleUploadedFile("p.csv", b"a,b\n1,2\n")})
    imp = ContactImport.objects.get()
    response = marketer_client.post(f"/imports/{imp.pk}/mapping/", {"column_0": "first_name", "action": "start"})
    assert response.status_code == 422 and "Map one column to E-mail" in response.content.decode()


def test_custom_field_admin(marketer_client):
    response = marketer_client.post("/fields/new/", {"object": "contact", "alias": "Bad!", "label": "",
                                                     "type": "text"})
    assert response.status_code == 422 and "A label is required." in response.content.decode()
    marketer_client.post("/fields/new/", {"object": "contact", "alias": "tier", "label": "Tier", "type": "select",
                                          "choices": "Gold\nSilver"})
    field = Field.objects.get()
    assert field.choice_values() == ["Gold", "Silver"]
    marketer_client.post(f"/fields/{field.pk}/delete/")
    assert not Field.objects.exists()


def test_company_pages(marketer_client):
    marketer_client.post("/companies/new/", {"name": "Acme", "website": "acme.test", "employees": "12"})
    response = marketer_client.post("/companies/new/", {"name": "ACME"})
    assert response.status_code == 422 and "already has this name" in response.content.decode()


# -- roles -------------------------------------------------------------------------------

def test_read_only_users_can_look_but_not_change(client, reader):
    client.force_login(reader)
    contact = ContactFactory()
    assert client.get("/contacts/").status_code == 200
    assert client.get(f"/contacts/{contact.pk}/").status_code == 200
    assert client.post("/contacts/new/", {"email": "x@example.com"}).status_code == 403
    assert client.post(f"/contacts/{contact.pk}/delete/").status_code == 403
    assert Contact.objects.count() == 1
    assert "New contact" not in client.get("/contacts/").content.decode()


def test_marketers_cannot_reach_admin_pages(marketer_client):
    assert marketer_client.get("/users/").status_code == 403
    assert marketer_client.get("/integrations/add/example/").status_code == 403
    assert marketer_client.get("/integrations/").status_code == 200


def test_admin_manages_users(admin_client, admin_user):
    response = admin_client.post("/users/new/", {"username": "newbie", "role": "readonly", "password": "short"})
    assert response.status_code == 422 and "too short" in response.content.decode()
    admin_client.post("/users/new/", {"username": "newbie", "role": "readonly", "time_zone": "Europe/Paris",
                                      "password": "a long enough passphrase"})
    assert User.objects.get(username="newbie").role == "readonly"
    response = admin_client.post(f"/users/{admin_user.pk}/", {"role": "marketer", "is_active": "1"})
    assert "cannot remove your own administrator rights" in response.content.decode()


def test_api_token_is_shown_once_and_stored_hashed(marketer_client, marketer):
    response = marketer_client.post("/account/tokens/new/", {"name": "CRM bridge"})
    html = response.content.decode()
    token = html.split('id="new-token">')[1].split("<")[0]
    stored = ApiToken.objects.get(user=marketer)
    assert token.startswith("lsn_") and token.split("_", 2)[2] not in stored.digest  # the secret may hold "_"
    assert token not in marketer_client.get("/account/tokens/").content.decode()


def test_login_and_logout(client):
    User.objects.create_user(username="ann", password="a long enough passphrase")
    response = client.post("/login/", {"username": "ann", "password": "wrong"})
    assert response.status_code == 200 and "correct username and password" in response.content.decode()
    response = client.post("/login/", {"username": "ann", "password": "a long enough passphrase"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302
