"""The campaign pages: list, settings, the HTMX builder, publishing, running, statistics, enrollments."""

from __future__ import annotations

import pytest

from liaison.campaigns import services
from liaison.campaigns.models import Campaign, Enrollment, Step
from liaison.core.models import Job
from liaison.segments.models import Segment
from tests.campaigns.helpers import audience, campaign, run
from tests.factories import ContactFactory
from tests.testapp import campaign_steps as example

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def html(response) -> str:
    return response.content.decode()


def draft(segment=None, **data) -> Campaign:
    return campaign(segment, publish=False, **data)


# -- list and settings ---------------------------------------------------------------------

def test_the_list_shows_status_sources_and_contacts_enrolled(marketer_client):
    segment, _ = audience("Ada", "Bob", "Cy")
    live = campaign(segment, [("example.tag", {"tag": "t"})], name="Welcome")
    draft(name="Later")
    run(live)
    page = html(marketer_client.get("/campaigns/"))
    assert "Welcome" in page and "Later" in page
    assert '<span class="badge badge-ok">Published</span>' in page and "badge-muted\">Draft" in page
    assert f"Segments: {segment.name}" in page
    row = page[page.index(">Welcome<"):]  # listed by name: "Later" comes first
    assert f'<a href="/campaigns/{live.pk}/contacts/">3</a>' in row
    assert "New campaign" in page
    assert "Later" not in html(marketer_client.get("/campaigns/?status=published"))
    assert "Welcome" not in html(marketer_client.get("/campaigns/?q=later"))


def test_the_list_pages(marketer_client):
    Campaign.objects.bulk_create([Campaign(name=f"C{i:03}") for i in range(55)])
    first, second = html(marketer_client.get("/campaigns/")), html(marketer_client.get("/campaigns/?page=2"))
    assert "C000" in first and "C054" not in first and "Page 1 of 2" in first
    assert "C054" in second and "C000" not in second


def test_navigation_has_campaigns(marketer_client):
    assert '<a href="/campaigns/"' in html(marketer_client.get("/"))
    assert 'href="/campaigns/" class="active"' in html(marketer_client.get("/campaigns/"))


def test_create_shows_messages_next_to_fields_and_keeps_the_input(marketer_client):
    segment = Segment.objects.create(name="Newsletter")
    form = html(marketer_client.get("/campaigns/new/"))
    assert f'<option value="{segment.pk}">Newsletter</option>' in form and 'name="audience-segments.segment"' in form
    refused = marketer_client.post("/campaigns/new/", {"name": "", "description": "kept",
                                                       "audience-segments.segment": [str(segment.pk)],
                                                       "reentry": "never"})
    assert refused.status_code == 422
    page = html(refused)
    assert "Give the campaign a name." in page and ">kept</textarea>" in page
    assert f'<option value="{segment.pk}" selected>Newsletter</option>' in page
    assert not Campaign.objects.exists()

    created = marketer_client.post("/campaigns/new/", {"name": "Onboarding", "reentry": "rejoin",
                                                       "audience-segments.segment": [str(segment.pk)]})
    found = Campaign.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/campaigns/{found.pk}/"
    assert found.audiences == [{"key": "segments.segment", "values": [str(segment.pk)]}]
    assert found.reentry == "rejoin" and found.status == "draft" and not found.exit_on_leave
    assert 'name="exit_on_leave" id="id_exit_on_leave" value="1" checked' in form  # on by default


def test_a_bad_reentry_is_refused_next_to_its_field(marketer_client):
    response = marketer_client.post("/campaigns/new/", {"name": "X", "reentry": "sometimes"})
    assert response.status_code == 422 and "One of: never, rejoin, always." in html(response)


def test_edit_with_start_events(marketer_client):
    found = draft(name="From clicks")
    assert 'value="example.clicked"' in html(marketer_client.get(f"/campaigns/{found.pk}/edit/"))
    # "+ Add start event" redraws the start events with the step's settings.
    added = marketer_client.post("/campaigns/starts/", {"starts-n": "0", "op": "add:example.clicked"}, headers=HX)
    assert 'name="starts-0-key" value="example.clicked"' in html(added) and 'name="starts-0-c-thing"' in html(added)
    removed = marketer_client.post("/campaigns/starts/", {"starts-n": "1", "starts-0-key": "example.clicked",
                                                          "op": "remove:0"}, headers=HX)
    assert 'name="starts-n" value="0"' in html(removed)

    saved = marketer_client.post(f"/campaigns/{found.pk}/edit/", {
        "name": "From clicks", "reentry": "always", "starts-n": "1", "starts-0-key": "example.clicked",
        "starts-0-c-thing": "pricing"})
    assert saved.status_code == 302
    found.refresh_from_db()
    assert found.starts == [{"key": "example.clicked", "config": {"thing": "pricing"}}] and found.reentry == "always"
    page = html(marketer_client.get(f"/campaigns/{found.pk}/edit/"))
    assert 'name="starts-0-c-thing" id="id_starts-0-c-thing" value="pricing"' in page

    refused = marketer_client.post(f"/campaigns/{found.pk}/edit/", {
        "name": "From clicks", "reentry": "never", "starts-n": "1", "starts-0-key": "example.tag"})
    assert refused.status_code == 422 and "&#x27;example.tag&#x27; is not an event that can start a campaign." in html(refused)


def test_delete_asks_first_and_deletes(marketer_client):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "t"})])
    run(found)
    page = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert f'action="/campaigns/{found.pk}/delete/"' in page and 'data-confirm="Delete the campaign' in page
    response = marketer_client.post(f"/campaigns/{found.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/campaigns/"
    assert not Campaign.objects.exists() and not Enrollment.objects.exists()
    assert marketer_client.get(f"/campaigns/{found.pk}/").status_code == 404


# -- the builder ---------------------------------------------------------------------------

def tree_campaign(segment=None, publish=False):
    return campaign(segment, [
        ("example.named", {"names": ["Ada"]}, {}, {
            "yes": [("example.tag", {"tag": "vip"}, {"delay": "relative", "delay_amount": 2, "delay_unit": "days"})],
            "no": [("example.clicked", {"thing": "pricing"}, {"timeout_amount": 3, "timeout_unit": "days"})],
        }),
    ], publish=publish, name="Tree")


def test_the_builder_shows_the_tree_with_summaries_and_statistics(marketer_client):
    segment, _ = audience("Ada", "Bob")
    found = tree_campaign(segment, publish=True)
    run(found)
    page = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    condition, tag, decision = Step.objects.filter(campaign=found).order_by("pk")
    assert "First name is Ada" in page and "Tag “vip” in the Example CRM" in page and "Clicks pricing" in page
    assert "Runs after 2 days" in page and "Waits up to 3 days, then takes “No”" in page
    cond = page[page.index(f'id="step-{condition.pk}"'):]
    assert '<span class="yes">yes 1</span> · <span class="no">no 1</span>' in cond
    assert page.index(f'id="step-{tag.pk}"') < page.index('class="branch branch-no"') < page.index(
        f'id="step-{decision.pk}"')
    dec = page[page.index(f'id="step-{decision.pk}"'):]
    assert "1 waiting" in dec
    slots = [f"?parent={condition.pk}&amp;branch=yes", f"?parent={condition.pk}&amp;branch=no",
             f"?parent={tag.pk}&amp;branch=", "?parent=&amp;branch="]
    for slot in slots:
        assert slot in page, slot
    assert f'hx-get="/campaigns/{found.pk}/steps/{tag.pk}/"' in page


def test_a_draft_says_what_is_missing_before_publishing(marketer_client):
    found = draft()
    page = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert "Before publishing:" in page and "Add at least one step." in page and "Choose where contacts come from" in page


def test_add_a_step_choose_kind_then_step_then_settings(marketer_client):
    found = draft()
    url = f"/campaigns/{found.pk}/steps/new/"
    first = html(marketer_client.get(url + "?parent=&branch=", headers=HX))
    assert 'name="kind"' in first and "<optgroup" not in first and "at the start of the campaign" in first
    actions = html(marketer_client.get(url, {"parent": "", "branch": "", "kind": "action"}, headers=HX))
    assert '<optgroup label="Example">' in actions and '<option value="example.tag">Tag in Example CRM</option>' in actions
    assert 'value="example.named"' not in actions  # a condition is not offered as an action
    chosen = html(marketer_client.get(url, {"parent": "", "branch": "", "kind": "action", "key": "example.tag"},
                                      headers=HX))
    assert 'name="step-c-tag"' in chosen and "The tag to set in the Example CRM." in chosen
    assert 'name="delay"' in chosen and 'name="timeout_amount"' not in chosen
    decision = html(marketer_client.get(url, {"kind": "decision", "key": "example.clicked"}, headers=HX))
    assert 'name="timeout_amount"' in decision and 'name="delay"' not in decision
    # A step of another kind than the one chosen is dropped (the kind changed).
    switched = html(marketer_client.get(url, {"kind": "condition", "key": "example.tag"}, headers=HX))
    assert 'name="step-c-tag"' not in switched and 'value="example.named"' in switched
    # Without JavaScript the same address is a page of its own.
    assert "<html" in html(marketer_client.get(url + "?kind=action&key=example.tag"))


def test_adding_shows_the_servers_messages_next_to_the_inputs(marketer_client):
    found = draft()
    url = f"/campaigns/{found.pk}/steps/new/"
    base = {"parent": "", "branch": "", "kind": "action", "key": "example.tag", "delay": "none"}
    missing = marketer_client.post(url, base, headers=HX)
    assert missing.status_code == 200  # htmx swaps 2xx answers only: the builder with the form
    page = html(missing)
    assert 'id="builder"' in page and 'id="step-form"' in page
    field = page[page.index('name="step-c-tag"'):]
    assert "This setting is required." in field[:600]
    reserved = html(marketer_client.post(url, {**base, "step-c-tag": "forbidden"}, headers=HX))
    assert "The tag “forbidden” is reserved by the Example CRM." in reserved
    delay = html(marketer_client.post(url, {**base, "step-c-tag": "x", "delay": "relative", "delay_amount": ""},
                                      headers=HX))
    assert "How long to wait (1 or more)." in delay[delay.index('name="delay_amount"'):][:800]
    until = html(marketer_client.post(url, {**base, "step-c-tag": "x", "delay": "until", "delay_until": ""},
                                      headers=HX))
    assert "Choose the date and time." in until
    no_key = html(marketer_client.post(url, {"parent": "", "branch": "", "kind": "action"}, headers=HX))
    assert "Choose the step to add." in no_key
    assert not Step.objects.exists()
    # Without htmx: a page with the messages, status 422.
    plain = marketer_client.post(url, base)
    assert plain.status_code == 422 and "This setting is required." in html(plain)


def test_adding_on_a_branch_and_after_an_action(marketer_client):
    found = draft()
    url = f"/campaigns/{found.pk}/steps/new/"
    added = marketer_client.post(url, {"parent": "", "branch": "", "kind": "condition", "key": "example.named",
                                       "step-c-names": ["Ada", "Bob"], "delay": "none"}, headers=HX)
    condition = Step.objects.get()
    assert condition.config == {"names": ["Ada", "Bob"]} and condition.parent is None
    assert "Step “First name is Ada or Bob” added." in html(added) and f'id="step-{condition.pk}"' in html(added)
    form = html(marketer_client.get(url, {"parent": condition.pk, "branch": "no"}, headers=HX))
    assert "on the “No” branch of “First name is Ada or Bob”" in form
    marketer_client.post(url, {"parent": condition.pk, "branch": "no", "kind": "action", "key": "example.tag",
                               "step-c-tag": "nope", "delay": "relative", "delay_amount": "3", "delay_unit": "hours",
                               "name": "Tag the others"}, headers=HX)
    tag = Step.objects.get(key="example.tag")
    assert (tag.parent_id, tag.branch, tag.delay, tag.delay_amount, tag.delay_unit, tag.name) == (
        condition.pk, "no", "relative", 3, "hours", "Tag the others")
    after = marketer_client.post(url, {"parent": tag.pk, "branch": "", "kind": "decision", "key": "example.clicked",
                                       "step-c-thing": "", "timeout_amount": "2", "timeout_unit": "days"})
    assert after.status_code == 302 and after["Location"] == f"/campaigns/{found.pk}/"
    decision = Step.objects.get(key="example.clicked")
    assert (decision.parent_id, decision.branch, decision.timeout_amount) == (tag.pk, "", 2)
    refused = html(marketer_client.post(url, {"parent": condition.pk, "branch": "", "kind": "action",
                                              "key": "example.tag", "step-c-tag": "x", "delay": "none"}, headers=HX))
    assert "Choose the yes or the no branch." in refused
    other = draft(name="Other")
    assert marketer_client.get(url, {"parent": Step.objects.create(
        campaign=other, key="example.tag", step_kind="action").pk}, headers=HX).status_code == 404


def test_a_date_delay_is_read_in_the_users_time_zone(marketer_client, marketer):
    marketer.time_zone = "Europe/Paris"
    marketer.save()
    found = draft()
    marketer_client.post(f"/campaigns/{found.pk}/steps/new/", {
        "kind": "action", "key": "example.tag", "step-c-tag": "x", "delay": "until",
        "delay_until": "2026-12-24T09:00"}, headers=HX)
    step = Step.objects.get()
    assert step.delay_until.isoformat() == "2026-12-24T08:00:00+00:00"
    form = html(marketer_client.get(f"/campaigns/{found.pk}/steps/{step.pk}/", headers=HX))
    assert 'value="2026-12-24T09:00"' in form


def test_edit_a_step(marketer_client):
    found = tree_campaign()
    tag = Step.objects.get(key="example.tag")
    url = f"/campaigns/{found.pk}/steps/{tag.pk}/"
    form = html(marketer_client.get(url, headers=HX))
    assert "Edit the action" in form and 'value="vip"' in form and 'name="kind"' not in form
    assert 'value="relative" selected' in form and 'name="delay_amount" id="id_delay_amount" value="2"' in form
    refused = html(marketer_client.post(url, {"key": "example.tag", "step-c-tag": "", "delay": "none"}, headers=HX))
    assert "This setting is required." in refused or "String should have at least 1 character" in refused
    tag.refresh_from_db()
    assert tag.config == {"tag": "vip"}
    # Another action may replace it (its settings change with it).
    other = html(marketer_client.get(url, {"key": "example.idempotent", "step-c-tag": "vip", "delay": "none"},
                                     headers=HX))
    assert 'value="example.idempotent" selected' in other and 'value="example.named"' not in other
    saved = marketer_client.post(url, {"key": "example.idempotent", "step-c-tag": "gold", "delay": "none",
                                       "name": ""}, headers=HX)
    tag.refresh_from_db()
    assert (tag.key, tag.config, tag.delay) == ("example.idempotent", {"tag": "gold"}, "none")
    assert "Tag “gold” in the Example CRM" in html(saved)
    wrong_kind = html(marketer_client.post(url, {"key": "example.named", "step-c-names": ["x"]}, headers=HX))
    assert "can only be replaced by another action" in wrong_kind
    assert 'value="example.idempotent" selected>' in wrong_kind  # the step's own kind is offered again
    assert marketer_client.get(f"/campaigns/{draft(name='Other').pk}/steps/{tag.pk}/").status_code == 404


def test_delete_a_step_with_the_steps_under_it(marketer_client):
    found = tree_campaign()
    condition = Step.objects.get(key="example.named")
    page = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert f'action="/campaigns/{found.pk}/steps/{condition.pk}/delete/"' in page
    assert "data-confirm=\"Delete “First name is Ada” and the steps under it?" in page
    response = marketer_client.post(f"/campaigns/{found.pk}/steps/{condition.pk}/delete/")
    assert response.status_code == 302 and not Step.objects.exists()
    follow = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert "Step “First name is Ada” deleted with the steps under it." in follow


# -- publishing and running ----------------------------------------------------------------

def test_publish_refusals_are_shown_as_messages(marketer_client):
    found = draft()
    response = marketer_client.post(f"/campaigns/{found.pk}/publish/", follow=True)
    page = html(response)
    assert "Add at least one step." in page and "The campaign was not published" in page
    found.refresh_from_db()
    assert found.status == "draft"


def test_publish_run_pause_resume(marketer_client, django_capture_on_commit_callbacks):
    segment, contacts = audience("Ada", "Bob")
    example.OUTCOMES[contacts[1].email] = "fail"
    found = tree_campaign(segment)
    with django_capture_on_commit_callbacks(execute=True):
        published = marketer_client.post(f"/campaigns/{found.pk}/publish/", follow=True)
    assert "is published" in html(published)
    found.refresh_from_db()
    assert found.status == "published" and Enrollment.objects.filter(campaign=found).count() == 2
    page = html(published)
    assert "Run now" in page and "Pause" in page and "Publish</button>" not in page

    with django_capture_on_commit_callbacks(execute=True):
        ran = marketer_client.post(f"/campaigns/{found.pk}/run/", follow=True)
    job = Job.objects.filter(kind=services.RUN_JOB, params={"campaign_id": found.pk}).latest("id")
    assert f"Running “Tree” now (job #{job.pk})." in html(ran) and job.status == "succeeded"
    assert f'href="/jobs/{job.pk}/"' in html(ran)

    paused = html(marketer_client.post(f"/campaigns/{found.pk}/pause/", follow=True))
    assert "is paused" in paused and "Resume" in paused
    refused = html(marketer_client.post(f"/campaigns/{found.pk}/run/", follow=True))
    assert "Publish the campaign first" in refused
    again = html(marketer_client.post(f"/campaigns/{found.pk}/pause/", follow=True))
    assert "Only a published campaign can be paused." in again
    with django_capture_on_commit_callbacks(execute=True):
        resumed = html(marketer_client.post(f"/campaigns/{found.pk}/resume/", follow=True))
    assert "runs again" in resumed
    found.refresh_from_db()
    assert found.status == "published"


def test_the_run_card_polls_while_the_job_runs(marketer_client):
    segment, _ = audience("Ada")
    found = tree_campaign(segment, publish=True)
    job = Job.objects.create(kind=services.RUN_JOB, label="Run", params={"campaign_id": found.pk},
                             status=Job.Status.RUNNING, progress_message="Step 1 of 3")
    page = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert "?fragment=run&amp;polling=1" in page and 'hx-trigger="every 2s"' in page and "Step 1 of 3" in page
    card = marketer_client.get(f"/campaigns/{found.pk}/?fragment=run&polling=1", headers=HX)
    assert 'id="run-status"' in html(card) and "<html" not in html(card) and "HX-Trigger" not in card
    job.status = Job.Status.SUCCEEDED
    job.save()
    done = marketer_client.get(f"/campaigns/{found.pk}/?fragment=run&polling=1", headers=HX)
    assert done["HX-Trigger"] == "campaign-ran" and 'hx-trigger="every 2s"' not in html(done)
    builder = html(marketer_client.get(f"/campaigns/{found.pk}/?fragment=builder", headers=HX))
    assert builder.startswith('<div id="builder"') and 'hx-trigger="campaign-ran from:body"' in builder


def test_statistics_page(marketer_client):
    segment, contacts = audience("Ada", "Bob")
    example.OUTCOMES[contacts[0].email] = "fail"
    found = tree_campaign(segment, publish=True)
    run(found)
    Step.objects.filter(key="example.tag").update(delay="none")
    from liaison.campaigns.models import StepRun
    StepRun.objects.filter(step__key="example.tag").update(due_at=found.created_at)
    run(found)
    page = html(marketer_client.get(f"/campaigns/{found.pk}/statistics/"))
    condition, tag, decision = Step.objects.filter(campaign=found).order_by("pk")
    row = page[page.index(f'id="stats-{condition.pk}"'):page.index(f'id="stats-{tag.pk}"')]
    assert row.count('<td class="num">1</td>') == 2  # yes 1, no 1
    tag_row = page[page.index(f'id="stats-{tag.pk}"'):page.index(f'id="stats-{decision.pk}"')]
    assert f'href="/campaigns/{found.pk}/contacts/?failed=1">1</a>' in tag_row
    assert "Contacts enrolled" in page and "<strong>2</strong>" in page


def test_enrollments_show_each_contacts_step_log_with_the_providers_words(marketer_client):
    segment, contacts = audience("Ada", "Bob")
    example.OUTCOMES[contacts[0].email] = "fail"
    found = campaign(segment, [("example.named", {"names": ["Ada"]}, {}, {"yes": [("example.tag", {"tag": "t"})]})])
    run(found)
    page = html(marketer_client.get(f"/campaigns/{found.pk}/contacts/"))
    assert f'href="/contacts/{contacts[0].pk}/"' in page and f'href="/contacts/{contacts[1].pk}/"' in page
    ada = page[page.index(f'href="/contacts/{contacts[0].pk}/"'):]
    assert "First name is Ada</strong> → yes" in ada
    assert '<div class="field-error">Example CRM: contact is locked by another user</div>' in ada
    failed = html(marketer_client.get(f"/campaigns/{found.pk}/contacts/?failed=1"))
    assert f'/contacts/{contacts[0].pk}/' in failed and f'/contacts/{contacts[1].pk}/' not in failed
    searched = html(marketer_client.get(f"/campaigns/{found.pk}/contacts/", {"q": contacts[1].email}))
    assert f'/contacts/{contacts[1].pk}/' in searched and f'/contacts/{contacts[0].pk}/"' not in searched
    assert "No contact has entered" in html(marketer_client.get(f"/campaigns/{found.pk}/contacts/?status=stopped"))


# -- permissions ---------------------------------------------------------------------------

def test_readers_look_but_cannot_change(client, reader):
    client.force_login(reader)
    segment, _ = audience("Ada")
    found = tree_campaign(segment, publish=True)
    step = Step.objects.get(key="example.tag")
    for path in ("/campaigns/", f"/campaigns/{found.pk}/", f"/campaigns/{found.pk}/statistics/",
                 f"/campaigns/{found.pk}/contacts/"):
        assert client.get(path).status_code == 200, path
    page = html(client.get(f"/campaigns/{found.pk}/"))
    assert 'class="add-slot"' not in page and f'action="/campaigns/{found.pk}/run/"' not in page
    assert "/delete/" not in page and f'hx-get="/campaigns/{found.pk}/steps/' not in page
    assert "New campaign" not in html(client.get("/campaigns/"))
    posts = ["/campaigns/new/", "/campaigns/starts/", f"/campaigns/{found.pk}/edit/", f"/campaigns/{found.pk}/delete/",
             f"/campaigns/{found.pk}/publish/", f"/campaigns/{found.pk}/pause/", f"/campaigns/{found.pk}/resume/",
             f"/campaigns/{found.pk}/run/", f"/campaigns/{found.pk}/steps/new/",
             f"/campaigns/{found.pk}/steps/{step.pk}/", f"/campaigns/{found.pk}/steps/{step.pk}/delete/",
             f"/campaigns/{found.pk}/steps/{step.pk}/move/"]
    for path in posts:
        assert client.post(path, {"name": "x", "key": "example.tag", "step-c-tag": "x"}).status_code == 403, path
    assert Step.objects.filter(campaign=found).count() == 3 and Campaign.objects.get().status == "published"


def test_the_contact_page_lists_the_contacts_campaigns(marketer_client):
    segment, contacts = audience("Ada", "Bob")
    example.OUTCOMES[contacts[0].email] = "fail"
    found = campaign(segment, [("example.named", {"names": ["Ada"]}, {}, {"yes": [("example.tag", {"tag": "t"})]})],
                     name="Onboarding")
    run(found)
    page = html(marketer_client.get(f"/contacts/{contacts[0].pk}/"))
    card = page[page.index('id="contact-campaigns"'):]
    assert f'href="/campaigns/{found.pk}/contacts/?contact={contacts[0].pk}">Onboarding</a>' in card
    assert "Tag “t” in the Example CRM" in card and "Example CRM: contact is locked by another user" in card
    assert "In no campaign." in html(marketer_client.get(f"/contacts/{ContactFactory().pk}/"))
    own = html(marketer_client.get(f"/campaigns/{found.pk}/contacts/?contact={contacts[0].pk}"))
    assert f'/contacts/{contacts[0].pk}/' in own and f'/contacts/{contacts[1].pk}/' not in own


def test_move_a_step_among_the_steps_at_its_place(marketer_client):
    found = campaign(None, [("example.tag", {"tag": "a"}), ("example.tag", {"tag": "b"}),
                            ("example.tag", {"tag": "c"})], publish=False)
    a, b, c = Step.objects.order_by("pk")
    page = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert f'hx-post="/campaigns/{found.pk}/steps/{a.pk}/move/"' in page
    moved = marketer_client.post(f"/campaigns/{found.pk}/steps/{c.pk}/move/", {"direction": "up"}, headers=HX)
    assert "Step moved." in html(moved)
    assert list(Step.objects.order_by("position").values_list("config__tag", flat=True)) == ["a", "c", "b"]
    marketer_client.post(f"/campaigns/{found.pk}/steps/{a.pk}/move/", {"direction": "up"}, headers=HX)  # first: stays
    marketer_client.post(f"/campaigns/{found.pk}/steps/{a.pk}/move/", {"direction": "down"}, headers=HX)
    assert list(Step.objects.order_by("position").values_list("config__tag", flat=True)) == ["c", "a", "b"]
    tree = html(marketer_client.get(f"/campaigns/{found.pk}/"))
    assert tree.index("Tag “c”") < tree.index("Tag “a”") < tree.index("Tag “b”")


@pytest.mark.postgres
def test_move_step_within_its_place_goes_to_the_index_asked(db):
    from tests.campaigns.helpers import campaign as make

    found = make(None, [("example.tag", {"tag": t}) for t in "abcd"], publish=False)
    a, b, c, d = Step.objects.filter(campaign=found).order_by("pk")

    def order():
        return "".join(Step.objects.filter(campaign=found).order_by("position").values_list("config__tag", flat=True))

    services.move_step(a, None, "", 1)
    assert order() == "bacd"
    services.move_step(d, None, "", 0)
    assert order() == "dbac"
    services.move_step(b, None, "", 3)
    assert order() == "dacb"
    services.move_step(c, None, "", None)
    assert order() == "dabc"
    assert sorted(Step.objects.filter(campaign=found).values_list("position", flat=True)) == [0, 1, 2, 3]
