import pytest

from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, FieldFactory

PAGES = ["/", "/contacts/", "/contacts/new/", "/companies/", "/companies/new/", "/fields/", "/fields/new/",
         "/imports/", "/imports/new/", "/jobs/", "/schedules/", "/integrations/", "/users/", "/users/new/",
         "/account/tokens/", "/integrations/add/example/", "/integrations/add/example_basic/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_an_admin(admin_client, path):
    contact = ContactFactory()
    ActivityFactory(contact=contact)
    CompanyFactory()
    FieldFactory(type="select", choices=[{"value": "a", "label": "A"}])
    response = admin_client.get(path)
    assert response.status_code == 200, response.content[:500]


@pytest.mark.django_db
def test_detail_pages_render(admin_client):
    contact = ContactFactory(company=CompanyFactory())
    ActivityFactory(contact=contact, kind="contact.note", title="Called", data={"summary": "talked"})
    assert admin_client.get(f"/contacts/{contact.pk}/").status_code == 200
    assert admin_client.get(f"/contacts/{contact.pk}/edit/").status_code == 200
    assert admin_client.get(f"/companies/{contact.company_id}/").status_code == 200


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get("/contacts/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/login/").status_code == 200


@pytest.mark.django_db
def test_the_dashboard_names_activity_kinds_by_their_labels(admin_client):
    ActivityFactory(contact=ContactFactory(), kind="contact.note", title="Called")
    page = admin_client.get("/").content.decode()
    assert "Contacts · Note" in page
    assert "&lt;TimelineKind" not in page and "<TimelineKind" not in page
