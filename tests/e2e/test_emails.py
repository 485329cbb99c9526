"""Write an e-mail in the UI, send it to a contact, read it from the SMTP server, click, unsubscribe,
and find it all on the contact's timeline."""

from __future__ import annotations

import re

from liaison.contacts.models import Contact
from liaison.emails.models import Send
from tests.factories import ContactFactory


def test_email_send_track_unsubscribe_timeline(signed_in, live_server, smtp_server, settings):
    settings.LIAISON_BASE_URL = live_server.url  # the links in the message lead to this server
    page = signed_in
    contact = ContactFactory(email="grace@example.com", first_name="Grace", last_name="Hopper")
    target = f"{live_server.url}/static/liaison/liaison.css?from=newsletter"  # any page of this server

    # Write the e-mail: a bad token first, shown next to the field.
    page.click("nav >> text=E-mails")
    page.click("text=New e-mail")
    page.fill("#id_name", "Spring news")
    page.fill("#id_subject", "News for {contactfield=first_name|you} {oops}")
    page.fill("#id_html", f'<p>Hello {{contactfield=first_name}},</p><p><a href="{target}">Read more</a></p>\n')
    page.wait_for_selector("#preview >> text={oops} is not a known token.")  # the live preview warns at once
    page.click("button:has-text('Save')")
    assert "{oops} is not a known token." in page.locator(".field-error").first.inner_text()
    page.fill("#id_subject", "News for {contactfield=first_name|you}")
    # Insert the unsubscribe link from the token list, at the end of the HTML.
    page.locator("#id_html").focus()
    page.keyboard.press("Control+End")
    # Leaving the subject re-renders the live preview, which now shows the message (taller): wait
    # for it, then bring the button into view, or the list moves under the pointer as it clicks.
    page.wait_for_function("document.getElementById('preview-subject') && "
                           "document.getElementById('preview-subject').textContent === 'News for Alex'")
    insert = page.locator("[data-token=unsubscribe_url] >> button:has-text('Insert')")
    insert.scroll_into_view_if_needed()
    insert.click()
    assert '<a href="{unsubscribe_url}">Unsubscribe link</a>' in page.input_value("#id_html")
    page.wait_for_function("document.getElementById('preview-subject') && "
                           "document.getElementById('preview-subject').textContent === 'News for Alex'")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/emails/\d+/$"))

    # Send it to Grace, found by the contact search.
    page.fill("#send-contact", "grace@example.com")
    page.click("#send-form button[type=submit]")
    page.wait_for_selector("text=is on its way to grace@example.com")
    [received] = smtp_server.messages
    assert received.to == "grace@example.com" and received.header("Subject") == "News for Grace"
    send = Send.objects.get(contact=contact)
    assert send.status == "sent"

    # Open the message as the recipient: the pixel counts the open; the link goes through tracking.
    page.set_content(received.html, wait_until="load")
    tracked = page.get_attribute("text=Read more", "href")
    assert tracked == f"{live_server.url}/t/c/{send.token}/0/"
    page.click("text=Read more")
    page.wait_for_url(target)
    page.set_content(received.html, wait_until="load")
    page.click("text=Unsubscribe link")
    page.wait_for_url(f"{live_server.url}/u/{send.token}/")
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You are unsubscribed")
    assert Contact.objects.get(pk=contact.pk).do_not_contact

    # Everything is on Grace's timeline.
    page.goto(f"/contacts/{contact.pk}/")
    timeline = page.locator(".timeline").inner_text()
    for entry in ("E-mail sent", "E-mail opened", "Link clicked", target, "Unsubscribed", "Do not contact"):
        assert entry in timeline, entry
    assert "Do not contact" in page.locator("h1").inner_text()
    with page.expect_popup() as popup:
        page.click(".timeline >> text=View the message")
    webview = popup.value
    webview.wait_for_load_state()
    assert "Hello Grace," in webview.content() and webview.url == f"{live_server.url}/v/{send.token}/"
