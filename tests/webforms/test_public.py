"""The public page and its embed: errors next to fields, no cookies, honeypot, token, rate limit."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from liaison.contacts.models import Contact
from liaison.core import ratelimit
from liaison.webforms import public, services
from liaison.webforms.models import Form, Submission
from tests.webforms.conftest import GOOD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    ratelimit.reset()
    public._limits.cache_clear()
    yield
    ratelimit.reset()
    public._limits.cache_clear()


def token_of(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def visitor():
    """A browser on another site: no session, CSRF checks on (our page must not need them)."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.7")


def test_the_public_page_draws_every_field_and_sets_no_cookie(visitor, signup):
    response = visitor.get(f"/f/{signup.slug}/?utm_source=newsletter&first_name=Ann")
    html = response.content.decode()
    assert response.status_code == 200
    assert not response.cookies, response.cookies
    assert "X-Frame-Options" not in response  # embeddable in other sites' iframes
    for needle in ('type="email" name="e_mail"', 'name="first_name" id="id_first_name" value="Ann"',
                   'type="number" name="age"', '<option value="blue">Blue</option>', 'type="checkbox" name="topics"',
                   'type="hidden" name="utm_source" value="newsletter"', 'name="website_url"', 'name="form_token"'):
        assert needle in html, needle
    services.flush_views()
    assert Form.objects.get(pk=signup.pk).views == 1


def test_errors_are_shown_next_to_the_fields_and_values_kept(visitor, signup):
    token = token_of(visitor.get(f"/f/{signup.slug}/").content.decode())
    response = visitor.post(f"/f/{signup.slug}/", {"form_token": token, "e_mail": "nope", "first_name": "Ann",
                                                   "age": "7"})
    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'id="field-e_mail">.*?Enter a valid e-mail address\.', html, re.S)
    assert re.search(r'id="field-age">.*?Enter 18 or more\.', html, re.S)
    assert re.search(r'id="field-consent">.*?Please tick this box\.', html, re.S)
    assert 'value="Ann"' in html and "Please correct the answers marked below." in html
    assert taken() == 0


def test_a_valid_submission_goes_to_the_thank_you_page(visitor, signup, django_capture_on_commit_callbacks):
    token = token_of(visitor.get(f"/f/{signup.slug}/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(f"/f/{signup.slug}/", {**GOOD, "form_token": token},
                                HTTP_REFERER="https://www.example.com/landing", HTTP_USER_AGENT="Test/1.0")
    assert response.status_code == 302 and response["Location"] == f"/f/{signup.slug}/thanks/"
    submission = Submission.objects.get()
    assert submission.contact.email == "ann@example.com"
    assert (submission.ip, submission.referrer, submission.user_agent) == (
        "203.0.113.7", "https://www.example.com/landing", "Test/1.0")
    thanks = visitor.get(response["Location"]).content.decode()
    assert "Thank you!" in thanks


def test_redirect_after_submit_and_in_an_embed(visitor, signup):
    services.save_form({"redirect_url": "https://www.example.com/merci"}, form=signup)
    token = token_of(visitor.get(f"/f/{signup.slug}/").content.decode())
    response = visitor.post(f"/f/{signup.slug}/", {**GOOD, "form_token": token})
    assert response["Location"] == "https://www.example.com/merci"
    embedded = visitor.post(f"/f/{signup.slug}/?embed=1", {**GOOD, "form_token": token})
    assert embedded["Location"] == f"/f/{signup.slug}/thanks/?embed=1"
    page = visitor.get(embedded["Location"]).content.decode()
    assert 'liaison: "redirect", url: "https://www.example.com/merci"' in page and 'target="_top"' in page


def test_honeypot_pretends_success_and_stores_nothing(visitor, signup):
    token = token_of(visitor.get(f"/f/{signup.slug}/").content.decode())
    response = visitor.post(f"/f/{signup.slug}/", {**GOOD, "form_token": token, "website_url": "http://spam"})
    assert response.status_code == 302 and "/thanks/" in response["Location"]
    assert taken() == 0 and not Contact.objects.exists()


def test_a_missing_or_forged_token_asks_to_submit_again_with_a_fresh_one(visitor, signup):
    response = visitor.post(f"/f/{signup.slug}/", {**GOOD, "form_token": "forged"})
    html = response.content.decode()
    assert response.status_code == 400 and "submit again" in html
    assert 'value="Ann"' in html and token_of(html) != "forged"
    other = services.save_form({"name": "Other"})
    response = visitor.post(f"/f/{signup.slug}/", {**GOOD, "form_token": services.make_token(other)})
    assert response.status_code == 400
    assert taken() == 0


def taken() -> int:
    """Submissions taken in (stored or waiting in the intake)."""
    from liaison.webforms import intake

    return Submission.objects.count() + intake.store().count()


@override_settings(FORMS_RATE_LIMIT="2/minute")
def test_submissions_are_limited_per_address(signup):
    first, second = Client(REMOTE_ADDR="198.51.100.1"), Client(REMOTE_ADDR="198.51.100.2")
    token = token_of(first.get(f"/f/{signup.slug}/").content.decode())
    data = {**GOOD, "form_token": token}
    assert first.post(f"/f/{signup.slug}/", data).status_code == 302
    assert first.post(f"/f/{signup.slug}/", {**data, "e_mail": "b@example.com"}).status_code == 302
    limited = first.post(f"/f/{signup.slug}/", {**data, "e_mail": "c@example.com"})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many submissions from your network" in limited.content.decode()
    assert second.post(f"/f/{signup.slug}/", {**data, "e_mail": "d@example.com"}).status_code == 302
    assert taken() == 3


@override_settings(FORMS_RATE_LIMIT="1/minute", FORMS_TRUST_X_FORWARDED_FOR=True)
def test_behind_a_proxy_the_forwarded_address_is_limited(signup):
    client = Client(REMOTE_ADDR="10.0.0.1")
    token = token_of(client.get(f"/f/{signup.slug}/").content.decode())
    data = {**GOOD, "form_token": token}
    assert client.post(f"/f/{signup.slug}/", data, HTTP_X_FORWARDED_FOR="192.0.2.1, 10.0.0.1").status_code == 302
    assert client.post(f"/f/{signup.slug}/", data, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 302
    assert client.post(f"/f/{signup.slug}/", data, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429


def test_the_embed_script_draws_an_iframe_of_this_installation(visitor, signup, settings):
    settings.LIAISON_BASE_URL = "https://liaison.example.net"
    response = visitor.get(f"/f/{signup.slug}/embed.js")
    script = response.content.decode()
    assert response["Content-Type"].startswith("text/javascript") and response["Access-Control-Allow-Origin"] == "*"
    assert f'frame.src = "https://liaison.example.net/f/{signup.slug}/?embed=1"' in script
    assert 'event.origin !== "https://liaison.example.net"' in script
    embedded = visitor.get(f"/f/{signup.slug}/?embed=1").content.decode()
    assert 'liaison: "height"' in embedded and f'action="/f/{signup.slug}/?embed=1"' in embedded
    snippets = services.embed_snippets(signup, settings.LIAISON_BASE_URL)
    assert snippets["script"] == f'<script src="https://liaison.example.net/f/{signup.slug}/embed.js" async></script>'
    assert snippets["iframe"].startswith(f'<iframe src="https://liaison.example.net/f/{signup.slug}/?embed=1"')


def test_unpublished_or_unknown_forms_are_not_served(visitor, signup):
    services.save_form({"published": False}, form=signup)
    assert visitor.get(f"/f/{signup.slug}/").status_code == 404
    assert visitor.post(f"/f/{signup.slug}/", GOOD).status_code == 404
    assert visitor.get("/f/nothing-here/embed.js").status_code == 404
    assert visitor.put(f"/f/{signup.slug}/").status_code == 404
