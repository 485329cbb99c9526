from django.core.management.base import BaseCommand

from liaison.core import schedules


class Command(BaseCommand):
    help = "Run the scheduler: enqueue due schedules (once per slot) and recover stalled jobs."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="Seconds between ticks (default 5).")
        parser.add_argument("--once", action="store_true", help="Tick once and exit.")

    def handle(self, *args, interval, once, **options):
        if once:
            created = schedules.tick()
            from liaison.core import jobs

            swept = jobs.sweep()
            self.stdout.write(f"{len(created)} job(s) enqueued; sweep: {swept}")
            return
        schedules.run_forever(interval=interval)
