"""CSV import: detection, mapping, preview, bad rows with line numbers, batches, resume."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from liaison.contacts import imports
from liaison.contacts.models import Activity, Contact, ContactImport
from liaison.core import jobs
from liaison.core.errors import ValidationFailed
from liaison.core.models import Job
from tests.factories import ContactFactory, FieldFactory

pytestmark = pytest.mark.django_db


def upload(text: str | bytes, name: str = "people.csv") -> SimpleUploadedFile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def run(contact_import: ContactImport) -> Job:
    job = imports.start_import(contact_import, dispatch_now=False)
    jobs.run_job(job.pk)
    job.refresh_from_db()
    contact_import.refresh_from_db()
    return job


def test_detects_header_delimiter_and_guesses_the_mapping():
    FieldFactory(alias="industry", label="Industry")
    imp = imports.create_import(upload("E-mail;Prénom;Last name;Company name;Industry;Notes\n"
                                       "a@example.com;Émile;Zola;Acme;Retail;x\n"))
    assert imp.delimiter == ";" and imp.encoding == "utf-8" and imp.total_rows == 1
    assert imp.mapping == {"0": "email", "1": "first_name", "2": "last_name", "3": "company",
                           "4": "custom.industry"}


def test_bom_latin1_and_tabs_are_read():
    imp = imports.create_import(upload("\ufeffemail,first_name\nb@example.com,Zoë\n"))
    assert imp.encoding == "utf-8-sig" and imp.headers == ["email", "first_name"]
    latin = imports.create_import(upload("email\tfirst_name\nc@example.com\tJos\xe9\n".encode("latin-1")))
    assert latin.encoding == "latin-1" and latin.delimiter == "\t"
    run(latin)
    assert Contact.objects.get(email_key="c@example.com").first_name == "José"


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"email\n", "no rows"),
    (b"PK\x03\x04\x00\x00binary", "binary"),
    (b"\n\n", "name the columns"),
])
def test_unusable_files_are_refused_with_a_reason(content, message):
    with pytest.raises(ValidationFailed) as info:
        imports.create_import(upload(content))
    assert message in info.value.errors["file"][0]
    assert not ContactImport.objects.exists()


def test_mapping_must_include_email_and_known_fields_once():
    imp = imports.create_import(upload("a,b,c\nx@example.com,1,2\n"))
    with pytest.raises(ValidationFailed) as info:
        imports.set_mapping(imp, {"1": "first_name"})
    assert "E-mail" in info.value.errors["mapping"][0]
    with pytest.raises(ValidationFailed) as info:
        imports.set_mapping(imp, {"0": "email", "1": "first_name", "2": "first_name"})
    assert "already mapped" in info.value.errors["column_2"][0]
    with pytest.raises(ValidationFailed) as info:
        imports.set_mapping(imp, {"0": "email", "1": "shoe_size"})
    assert "not a contact field" in info.value.errors["column_1"][0]
    with pytest.raises(ValidationFailed):
        imports.set_mapping(imp, {"0": "email", "9": "first_name"})


def test_preview_shows_problems_without_writing():
    imp = imports.create_import(upload("email,points\nok@example.com,3\nnot-an-email,4\nx@example.com,lots\n"))
    preview = imports.preview(imp, {"0": "email", "1": "points"})
    assert [row["line"] for row in preview] == [2, 3, 4]
    assert preview[0]["problem"] == ""
    assert "not a valid e-mail" in preview[1]["problem"] and "not a number" in preview[2]["problem"]
    assert Contact.objects.count() == 0


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_imported():
    ContactFactory(email="known@example.com", first_name="Kept")
    text = ('email,first_name,points\n'
            'new@example.com,Ann,5\n'
            'bad-email,Bob,1\n'
            '\n'
            '"multi@example.com","Line\nBreak",2\n'
            'known@example.com,Changed,3\n'
            'short@example.com\n'
            'pts@example.com,Pat,many\n')
    imp = imports.create_import(upload(text))
    imports.set_mapping(imp, {"0": "email", "1": "first_name", "2": "points"}, {"first_name": "fill"})
    job = run(imp)
    assert job.status == "succeeded" and imp.status == "finished"
    assert (imp.created_count, imp.updated_count, imp.failed_count) == (2, 1, 3)
    errors = {e.line: e.reason for e in imp.row_errors.all()}
    assert set(errors) == {3, 8, 9}
    assert "not a valid e-mail" in errors[3]
    assert "has 1 values but the header has 3 columns" in errors[8]
    assert "not a number" in errors[9]
    assert Contact.objects.get(email_key="multi@example.com").first_name == "Line\nBreak"
    assert Contact.objects.get(email_key="known@example.com").first_name == "Kept"  # fill policy
    assert Activity.objects.filter(kind="contact.imported").count() == 3


def test_a_crash_loses_at_most_the_batch_in_progress_and_the_job_resumes(monkeypatch):
    rows = "\n".join(f"p{i}@example.com,P{i}" for i in range(25))
    imp = imports.create_import(upload("email,first_name\n" + rows + "\n"))
    imports.set_mapping(imp, {"0": "email", "1": "first_name"})
    monkeypatch.setattr(imports, "BATCH", 10)
    real = imports.record_activities
    calls = {"n": 0}

    def crash_on_second_batch(items):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(items)

    monkeypatch.setattr(imports, "record_activities", crash_on_second_batch)
    job = imports.start_import(imp, dispatch_now=False)
    jobs.run_job(job.pk)
    imp.refresh_from_db()
    job.refresh_from_db()
    assert job.status == "failed" and "disk full" in job.error
    assert imp.processed_rows == 10 and Contact.objects.count() == 10  # batch 2 rolled back whole
    assert imp.status == "failed"
    monkeypatch.setattr(imports, "record_activities", real)
    retried = jobs.retry(job)
    jobs.run_job(retried.pk)
    imp.refresh_from_db()
    assert imp.status == "finished" and imp.processed_rows == 25 and imp.created_count == 25
    assert Contact.objects.count() == 25
    assert "Resuming after row 10" in Job.objects.get(pk=retried.pk).log


def test_an_import_cannot_start_twice_or_change_mapping_once_started():
    imp = imports.create_import(upload("email\na@example.com\n"))
    imports.start_import(imp, dispatch_now=False)
    with pytest.raises(ValidationFailed):
        imports.start_import(imp)
    with pytest.raises(ValidationFailed):
        imports.set_mapping(imp, {"0": "email"})


@pytest.mark.django_db(transaction=True)
def test_cli_import_and_export(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("Mail,Given\na@example.com,Ann\nbroken,Bob\n")
    call_command("contacts", "import", str(path), "--map", "Mail=email", "--map", "Given=first_name")
    out = capsys.readouterr().out
    assert "line 3" in out and "not a valid e-mail" in out
    assert Contact.objects.get().first_name == "Ann"
    target = tmp_path / "out.csv"
    call_command("contacts", "export", "-o", str(target))
    exported = target.read_text(encoding="utf-8-sig").splitlines()
    assert exported[0].startswith("id,email,first_name") and "a@example.com" in exported[1]


def test_cli_dry_run_writes_nothing(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("email\na@example.com\n")
    call_command("contacts", "import", str(path), "--dry-run")
    assert "Dry run" in capsys.readouterr().out
    assert not Contact.objects.exists() and not ContactImport.objects.exists()
