"""CSV import of contacts: upload, column mapping with a preview, then a resumable job.

The job commits one batch of rows at a time (contacts, timeline entries, the rows'
errors and the resume cursor in one transaction), so a crash loses at most the batch
in progress, and the retried job continues after the last committed batch.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from liaison.contacts.fields import CUSTOM_PREFIX, catalogue_by_key
from liaison.contacts.models import ContactImport, ImportRowError
from liaison.contacts.services import (
    POLICIES,
    ActivityInput,
    describe_problems,
    record_activities,
    upsert_contacts,
)
from liaison.core import jobs
from liaison.core.errors import ValidationFailed

BATCH = 1000
MAX_COLUMNS = 200
PREVIEW_ROWS = 10
DELIMITERS = ",;\t|"


def _decode_sample(raw: bytes, truncated: bool) -> tuple[str, str]:
    """(encoding, text) of the start of a file: UTF-8 (with or without BOM), else Latin-1."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", raw.decode("utf-8-sig", errors="ignore")
    try:
        # A multi-byte character may be cut at the end of the sample.
        return "utf-8", raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(raw) - 3:
            return "utf-8", raw[: exc.start].decode("utf-8")
        return "latin-1", raw.decode("latin-1")


def _sniff_delimiter(sample: str) -> str:
    first = sample.splitlines()[0] if sample else ""
    try:
        return csv.Sniffer().sniff(sample[:8192], delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _slug(text: str) -> str:
    """Headers compared without case, accents or punctuation ("Prénom" ~ "prenom")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower())


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Map columns whose header looks like a field's key or label."""
    catalogue = catalogue_by_key()
    lookup: dict[str, str] = {}
    for key, definition in catalogue.items():
        for name in {key, definition.alias, definition.label}:
            lookup.setdefault(_slug(name), key)
    synonyms = {"emailaddress": "email", "mail": "email", "firstname": "first_name", "prenom": "first_name",
                "givenname": "first_name", "lastname": "last_name", "surname": "last_name", "nom": "last_name",
                "familyname": "last_name", "companyname": "company", "organisation": "company",
                "organization": "company", "societe": "company", "zip": "postcode", "zipcode": "postcode",
                "postalcode": "postcode", "telephone": "phone", "phonenumber": "phone", "jobtitle": "position",
                "title": "position"}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, header in enumerate(headers):
        slug = _slug(header)
        key = lookup.get(slug) or synonyms.get(slug)
        if key and key not in used:
            mapping[str(index)] = key
            used.add(key)
    return mapping


def _open_text(contact_import: ContactImport):
    contact_import.file.open("rb")
    return io.TextIOWrapper(contact_import.file.file, encoding=contact_import.encoding, errors="replace", newline="")


def _records(contact_import: ContactImport) -> Iterator[tuple[int, list[str]]]:
    """(line number, values) of each data record; the header is line 1."""
    with _open_text(contact_import) as handle:
        reader = csv.reader(handle, delimiter=contact_import.delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for values in reader:
            line, start = start, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            yield line, values


def create_import(upload: UploadedFile, user=None) -> ContactImport:
    """Store an uploaded CSV file, detect its encoding, delimiter and header, guess a mapping."""
    if upload is None or not upload.size:
        raise ValidationFailed({"file": ["Choose a CSV file; this one is empty."]})
    sample_size = 65536
    head = upload.read(sample_size)
    upload.seek(0)
    if b"\x00" in head[:4096]:
        raise ValidationFailed({"file": ["This is not a text CSV file (it looks binary, e.g. a spreadsheet). "
                                         "Save it as CSV first."]})
    encoding, sample = _decode_sample(head, truncated=len(head) == sample_size)
    delimiter = _sniff_delimiter(sample)
    try:
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
    except (StopIteration, csv.Error):
        raise ValidationFailed({"file": ["The file has no header line."]}) from None
    header = [h.strip() for h in header]
    if not any(header):
        raise ValidationFailed({"file": ["The first line must name the columns (e.g. email, first_name)."]})
    if len(header) > MAX_COLUMNS:
        raise ValidationFailed({"file": [f"The file has {len(header)} columns; at most {MAX_COLUMNS} are supported."]})
    contact_import = ContactImport(original_name=(upload.name or "import.csv")[:255], encoding=encoding,
                                   delimiter=delimiter, headers=header, mapping=guess_mapping(header),
                                   created_by=user if getattr(user, "is_authenticated", False) else None)
    contact_import.file.save(upload.name or "import.csv", upload, save=False)
    contact_import.save()
    contact_import.total_rows = sum(1 for _ in _records(contact_import))
    if contact_import.total_rows == 0:
        contact_import.file.delete(save=False)
        contact_import.delete()
        raise ValidationFailed({"file": ["The file has a header but no rows."]})
    contact_import.save(update_fields=["total_rows"])
    return contact_import


def set_mapping(contact_import: ContactImport, mapping: Mapping[str, str], policy: Mapping[str, str] | None = None,
                ) -> ContactImport:
    """Validate and store the column mapping ({column index: field key or ""})."""
    if contact_import.status != ContactImport.Status.DRAFT:
        raise ValidationFailed({"mapping": ["This import has already started; its mapping cannot change."]})
    catalogue = catalogue_by_key()
    clean: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for column, key in mapping.items():
        if not key:
            continue
        column = str(column)
        if not column.isdigit() or int(column) >= len(contact_import.headers):
            errors.setdefault("mapping", []).append(f"Column {column} does not exist in the file.")
            continue
        header = contact_import.headers[int(column)] or f"column {int(column) + 1}"
        if key not in catalogue:
            errors.setdefault(f"column_{column}", []).append(f"“{key}” is not a contact field.")
            continue
        if key in seen:
            errors.setdefault(f"column_{column}", []).append(
                f"{catalogue[key].label} is already mapped from “{seen[key]}”.")
            continue
        seen[key] = header
        clean[column] = key
    if "email" not in clean.values() and not errors:
        errors.setdefault("mapping", []).append("Map one column to E-mail: contacts are matched by e-mail.")
    policy = {k: v for k, v in (policy or {}).items() if v}
    bad = [k for k, v in policy.items() if v not in POLICIES or k not in catalogue]
    if bad:
        errors.setdefault("policy", []).append(f"Unknown fields or policies: {', '.join(bad)}.")
    if errors:
        raise ValidationFailed(errors)
    contact_import.mapping = clean
    contact_import.policy = policy
    contact_import.save(update_fields=["mapping", "policy"])
    return contact_import


def _row_dict(mapping: Mapping[str, str], values: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, key in mapping.items():
        index = int(column)
        row[key] = values[index] if index < len(values) else ""
    return row


def _shape_problem(headers: list[str], values: list[str]) -> str | None:
    extra = values[len(headers):]
    if len(values) < len(headers) or any(v.strip() for v in extra):
        return f"The row has {len(values)} values but the header has {len(headers)} columns."
    return None


def preview(contact_import: ContactImport, mapping: Mapping[str, str] | None = None,
            limit: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first rows as they would be imported, each with its problems (nothing is written)."""
    from liaison.contacts.services import prepare_rows

    mapping = mapping if mapping is not None else contact_import.mapping
    sample = []
    for line, values in _records(contact_import):
        sample.append((line, values))
        if len(sample) >= limit:
            break
    rows = [_row_dict(mapping, values) for _, values in sample]
    _, errors = prepare_rows(rows) if rows else ([], [])
    problems = {index: describe_problems(p) for index, p in errors}
    out = []
    for index, (line, values) in enumerate(sample):
        problem = _shape_problem(contact_import.headers, values) or problems.get(index, "")
        out.append({"line": line, "values": values, "mapped": rows[index], "problem": problem})
    return out


def start_import(contact_import: ContactImport, user=None, dispatch_now: bool = True):
    if contact_import.status != ContactImport.Status.DRAFT:
        raise ValidationFailed({"__all__": ["This import has already been started."]})
    if "email" not in contact_import.mapping.values():
        raise ValidationFailed({"mapping": ["Map one column to E-mail before starting the import."]})
    with transaction.atomic():
        job = jobs.enqueue("contacts.import", {"import_id": contact_import.pk},
                           label=f"Import {contact_import.original_name}", user=user, dispatch_now=dispatch_now)
        ContactImport.objects.filter(pk=contact_import.pk).update(status=ContactImport.Status.QUEUED, job=job)
    contact_import.refresh_from_db()
    return job


def run_import(ctx: jobs.JobContext, import_id: int) -> dict[str, int]:
    """The job: import the rows after the cursor, one committed batch at a time."""
    contact_import = ContactImport.objects.get(pk=import_id)
    if contact_import.status == ContactImport.Status.FINISHED:
        return _summary(contact_import)
    ContactImport.objects.filter(pk=import_id).update(status=ContactImport.Status.RUNNING)
    skip = contact_import.processed_rows
    if skip:
        ctx.log(f"Resuming after row {skip}.")
    ctx.progress(skip, contact_import.total_rows, "Importing", force=True)
    try:
        _import_after(ctx, contact_import, skip)
    except Exception as exc:
        # Shown on the import page; a retry of the job sets it running again.
        ContactImport.objects.filter(pk=import_id).update(status=ContactImport.Status.FAILED, error=str(exc)[:2000])
        raise
    ContactImport.objects.filter(pk=import_id).update(status=ContactImport.Status.FINISHED, error="",
                                                      finished_at=timezone.now())
    contact_import.refresh_from_db()
    summary = _summary(contact_import)
    ctx.progress(contact_import.processed_rows, contact_import.total_rows, "Finished", force=True)
    ctx.log("Imported: {created} created, {updated} updated, {unchanged} unchanged, {failed} refused.".format(**summary))
    return summary


def _import_after(ctx: jobs.JobContext, contact_import: ContactImport, skip: int) -> None:
    batch: list[tuple[int, list[str]]] = []
    for seen, (line, values) in enumerate(_records(contact_import), start=1):
        if seen <= skip:
            continue
        batch.append((line, values))
        if len(batch) >= BATCH:
            _import_batch(contact_import, batch)
            batch = []
            ctx.progress(contact_import.processed_rows, contact_import.total_rows, "Importing")
            ctx.check_cancelled()
    if batch:
        _import_batch(contact_import, batch)


def _summary(contact_import: ContactImport) -> dict[str, int]:
    return {"created": contact_import.created_count, "updated": contact_import.updated_count,
            "unchanged": contact_import.unchanged_count, "failed": contact_import.failed_count}


def _import_batch(contact_import: ContactImport, batch: list[tuple[int, list[str]]]) -> None:
    """Import one batch: all of it or (after a crash) none of it."""
    row_errors: list[ImportRowError] = []
    rows: list[dict[str, Any]] = []
    kept: list[tuple[int, list[str]]] = []  # (line, values) of each row in ``rows``
    for line, values in batch:
        problem = _shape_problem(contact_import.headers, values)
        if problem:
            row_errors.append(ImportRowError(contact_import=contact_import, line=line, reason=problem, row=values))
            continue
        rows.append(_row_dict(contact_import.mapping, values))
        kept.append((line, values))
    with transaction.atomic():
        result = upsert_contacts(rows, policy=contact_import.policy, skip_invalid=True,
                                 owner=contact_import.created_by_id)
        for index, problems in result.errors:
            line, values = kept[index]
            row_errors.append(ImportRowError(contact_import=contact_import, line=line,
                                             reason=describe_problems(problems), row=values))
        now = timezone.now()
        touched = result.created_ids + result.updated_ids
        label = f"Imported from {contact_import.original_name}"
        record_activities(
            ActivityInput(contact_id=pk, kind="contact.imported", occurred_at=now, title=label,
                          dedup_key=f"contact.imported:{contact_import.pk}:{pk}",
                          data={"import": contact_import.pk, "file": contact_import.original_name},
                          source=f"import:{contact_import.pk}")
            for pk in touched
        )
        ImportRowError.objects.bulk_create(row_errors, ignore_conflicts=True)
        contact_import.processed_rows += len(batch)
        contact_import.created_count += result.created
        contact_import.updated_count += result.updated
        contact_import.unchanged_count += result.unchanged
        contact_import.failed_count += len(row_errors)
        contact_import.save(update_fields=["processed_rows", "created_count", "updated_count", "unchanged_count",
                                           "failed_count"])


def field_choices() -> list[tuple[str, str]]:
    """(key, label) of the fields a column can be mapped to, for the mapping form."""
    return [(key, d.label + (" (custom)" if key.startswith(CUSTOM_PREFIX) else ""))
            for key, d in catalogue_by_key().items()]
