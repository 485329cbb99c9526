from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from rich.console import Console
from rich.table import Table

from liaison.core.cli import write_lines
from liaison.webforms import services
from liaison.webforms.models import Form


def find_form(value: str) -> Form:
    query = Q(slug=value) | Q(pk=int(value)) if value.isdigit() else Q(slug=value)
    form = Form.objects.filter(query).first()
    if form is None:
        raise CommandError(f"There is no form {value!r} (give its id or its address; 'liaison forms list').")
    return form


class Command(BaseCommand):
    help = "Forms: list them with their statistics, or export a form's submissions as CSV."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Forms with views, submissions and conversion.")
        export = sub.add_parser("export", help="A form's submissions as CSV.")
        export.add_argument("form", help="The form's id or address (slug).")
        export.add_argument("-o", "--output", help="File to write (default: standard output).")

    def handle(self, *args, action, **options):
        if action == "list":
            services.flush_views()
            table = Table("#", "form", "address", "published", "views", "submissions", "conversion")
            for form in Form.objects.all():
                table.add_row(str(form.pk), form.name, f"/f/{form.slug}/", "yes" if form.published else "no",
                              str(form.views), str(form.submission_count),
                              f"{form.conversion} %" if form.conversion is not None else "—")
            Console().print(table)
            return
        write_lines(services.submissions_csv(find_form(options["form"])), options["output"])
