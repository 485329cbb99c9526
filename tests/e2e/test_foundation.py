"""Log in, create a contact, import a CSV with a bad row and read the report, open the timeline."""

from __future__ import annotations

import re

from liaison.contacts.models import Contact


def test_contact_import_and_timeline(signed_in, live_server, tmp_path):
    page = signed_in
    # Create a contact, with a validation error first.
    page.click("text=Contacts")
    page.click("text=New contact")
    page.fill("#id_email", "not an email")
    page.fill("#id_first_name", "Grace")
    page.click("button:has-text('Save')")
    assert page.locator(".field-error").first.inner_text().endswith("is not a valid e-mail address.")
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_last_name", "Hopper")
    page.fill("#id_company", "Navy")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/contacts/\d+/$"))
    assert "Grace Hopper" in page.locator("h1").inner_text()

    # Import a CSV with one bad row and read the report.
    csv = tmp_path / "people.csv"
    csv.write_text("Email,First name,Last name\nada@example.com,Ada,Lovelace\nnot-an-email,Bad,Row\n"
                   "grace@example.com,Grace,Hopper\n")
    page.goto("/imports/new/")
    page.set_input_files("#id_file", str(csv))
    page.click("button:has-text('Upload and map columns')")
    page.wait_for_url(re.compile(r"/imports/\d+/mapping/$"))
    assert "not a valid e-mail" in page.content()  # the preview flags line 3 before anything is written
    page.click("button:has-text('Start the import')")
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    # The test backend runs the job at once; the page polls until it is finished.
    page.wait_for_selector("text=Finished")
    report = page.locator("table").last.inner_text()
    assert "3" in report and "not a valid e-mail" in report
    assert Contact.objects.filter(email_key="ada@example.com").exists()

    # Open the timeline of an imported contact.
    page.goto("/contacts/?q=ada")
    page.click("text=Ada Lovelace")
    timeline = page.locator(".timeline").inner_text()
    assert "Imported from people.csv" in timeline
    page.fill("#note-text", "Met at the conference")
    page.click("button:has-text('Add to timeline')")
    assert "Met at the conference" in page.locator(".timeline").inner_text()
