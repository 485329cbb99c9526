"""Build a segment and a form in the UI, submit on the public page (errors, then valid) and in an
embed on another site, and see the contact, its timeline entry and its segment membership."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from liaison.contacts.models import Contact
from liaison.segments.models import Membership, Segment


def settle(page) -> None:
    """Wait until HTMX has swapped and processed the new content (its listeners are on)."""
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


@pytest.fixture
def partner_site(live_server):
    """Another site (another origin on loopback) whose page embeds a form with the script."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = "localhost" if "127.0.0.1" in live_server.url else "127.0.0.1"
    yield pages, f"http://{host}:{server.server_address[1]}"
    server.shutdown()


def test_build_a_form_submit_it_and_see_the_contact_in_the_segment(signed_in, live_server, settings, partner_site):
    settings.LIAISON_BASE_URL = live_server.url
    page = signed_in

    # A segment from the HTMX builder: contacts who submitted a form in the last 7 days.
    page.click("nav >> text=Segments")
    page.click("text=New segment")
    page.fill("#id_name", "Recent sign-ups")
    page.click("button:has-text('+ Condition')")
    settle(page)
    page.select_option("select[name='f-0-filter']", label="Timeline activity")
    settle(page)
    page.select_option("select[name='f-0-operator']", label="in the last N days")
    settle(page)
    page.check("input[name='f-0-value'][value='webforms.submitted']")
    page.fill("input[name='f-0-days']", "7")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/segments/\d+/$"))
    assert "Timeline activity in the last N days" in page.locator("#segment-summary").inner_text()
    assert page.locator("#member-count").inner_text() == "0"

    # A form: the e-mail field is there; add a required first name and an action.
    page.click("nav >> text=Forms")
    page.click("text=New form")
    page.fill("#id_name", "Sign-up")
    page.select_option("#add-field-type", "text")
    page.click("button:has-text('+ Add field')")
    settle(page)
    page.fill("input[name='fields-1-label']", "First name")
    page.select_option("select[name='fields-1-contact_field']", label="First name")
    page.check("input[name='fields-1-required']")
    page.select_option("#add-action-type", "contact.points")
    page.click("button:has-text('+ Add action')")
    settle(page)
    page.fill("input[name='actions-0-c-points']", "5")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/forms/\d+/$"))
    public_url = page.locator("a:has-text('Open the public page')").get_attribute("href")
    assert public_url == "/f/sign-up/"

    # The public page: errors next to the fields first, then a valid submission.
    page.goto(public_url)
    page.fill("#id_email", "not an address")
    page.click("button:has-text('Submit')")
    assert page.locator("#field-email .error").inner_text() == "Enter a valid e-mail address."
    assert page.locator("#field-first_name .error").inner_text() == "This field is required."
    assert page.locator("#id_email").input_value() == "not an address"
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_first_name", "Grace")
    page.click("button:has-text('Submit')")
    page.wait_for_selector("#form-thanks")

    # The contact, its timeline entry, its points and its segment membership.
    page.goto("/contacts/?q=grace@example.com")
    page.click("text=Grace")
    page.wait_for_url(re.compile(r"/contacts/\d+/$"))
    assert "Submitted the form “Sign-up”" in page.locator(".timeline").inner_text()
    assert "+5 points" in page.locator(".timeline").inner_text()
    assert "Recent sign-ups" in page.locator("#contact-segments").inner_text()
    segment = Segment.objects.get(name="Recent sign-ups")
    assert Membership.objects.filter(segment=segment, contact__email_key="grace@example.com").exists()

    # The embed on another site: the script draws the form in an iframe and sizes it.
    pages, partner = partner_site
    pages["/"] = (f'<html><body><h1>Partner site</h1><script src="{live_server.url}/f/sign-up/embed.js"></script>'
                  f"</body></html>").encode()
    page.goto(partner + "/")
    frame = page.frame_locator("iframe")
    frame.locator("#id_email").fill("ada@example.com")
    frame.locator("#id_first_name").fill("Ada")
    frame.locator("button:has-text('Submit')").click()
    frame.locator("#form-thanks").wait_for()
    page.wait_for_function("parseInt(document.querySelector('iframe').style.height) > 0")
    assert Contact.objects.filter(email_key="ada@example.com", first_name="Ada", points=5).exists()
