from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from liaison.contacts import exports, imports, services
from liaison.core.cli import report, run_job_with_progress, write_lines
from liaison.core.errors import ValidationFailed


class Command(BaseCommand):
    help = ("Import contacts from a CSV file (liaison contacts import FILE [--map Header=field ...]) "
            "or export them (liaison contacts export [--q TEXT] [-o FILE]).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Import a CSV file.")
        imp.add_argument("file")
        imp.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                         help="Map a column (by header) to a field key, e.g. 'E-mail address=email'. "
                              "Unmapped columns use the automatic guess; '=' alone skips a column.")
        imp.add_argument("--fill", action="append", default=[], metavar="FIELD",
                         help="Fill this field only when empty (default: overwrite).")
        imp.add_argument("--dry-run", action="store_true", help="Show the mapping and preview, import nothing.")
        exp = sub.add_parser("export", help="Export contacts as CSV.")
        exp.add_argument("--q", default="", help="Search text, as in the contact list.")
        exp.add_argument("--company", type=int)
        exp.add_argument("-o", "--output", help="File to write (default: standard output).")

    def handle(self, *args, action, **options):
        if action == "import":
            self._import(options)
        else:
            self._export(options)

    def _import(self, options):
        console = Console()
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
        try:
            contact_import = imports.create_import(upload)
            mapping = dict(contact_import.mapping)
            by_header = {h: str(i) for i, h in enumerate(contact_import.headers)}
            for item in options["map"]:
                header, _, field = item.rpartition("=")
                if header not in by_header:
                    raise CommandError(f"No column named {header!r}; the columns are: "
                                       f"{', '.join(contact_import.headers)}")
                mapping[by_header[header]] = field
            policy = {field: "fill" for field in options["fill"]}
            imports.set_mapping(contact_import, mapping, policy)
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from None
        table = Table("column", "field")
        for index, header in enumerate(contact_import.headers):
            table.add_row(header, contact_import.mapping.get(str(index), "—"))
        console.print(table)
        problems = [row for row in imports.preview(contact_import) if row["problem"]]
        for row in problems:
            console.print(f"[yellow]line {row['line']}:[/yellow] {row['problem']}")
        if options["dry_run"]:
            console.print(f"Dry run: {contact_import.total_rows} rows would be imported; nothing was written.")
            contact_import.file.delete(save=False)
            contact_import.delete()
            return
        job = imports.start_import(contact_import, dispatch_now=False)
        job = run_job_with_progress(job, console)
        contact_import.refresh_from_db()
        for error in contact_import.row_errors.all()[:20]:
            console.print(f"[red]line {error.line}:[/red] {error.reason}")
        if contact_import.failed_count > 20:
            console.print(f"… and {contact_import.failed_count - 20} more (see the import page).")
        status = report(job, console)
        if status:
            raise SystemExit(status)

    def _export(self, options):
        params = {"q": options["q"], "company": options["company"]}
        qs = services.filter_contacts({k: v for k, v in params.items() if v})
        write_lines(exports.contacts_csv(qs), options["output"])
