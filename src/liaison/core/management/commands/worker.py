from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a background worker (database queue embedded, Celery at scale)."

    def add_arguments(self, parser):
        parser.add_argument("--queues", default=",".join(settings.TASK_QUEUES),
                            help="Comma-separated queues to serve (default: all).")
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (Celery only).")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit (database queue).")

    def handle(self, *args, queues, concurrency, batch, **options):
        backend = settings.TASK_BACKEND
        if backend == "db":
            call_command("db_worker", queue_name=queues if queues != ",".join(settings.TASK_QUEUES) else "*",
                         interval=0.5, batch=batch, reload=False, verbosity=options.get("verbosity", 1))
        elif backend == "celery":
            from liaison.core.celery_app import app

            app.worker_main(["worker", "-Q", queues, "--concurrency", str(concurrency), "--loglevel", "INFO",
                             "--without-gossip", "--without-mingle", "-n", "liaison@%h"])
        else:
            raise CommandError("LIAISON_TASK_BACKEND=immediate runs tasks inline; there is nothing for a worker to do.")
