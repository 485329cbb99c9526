"""``liaison webhooks``: subscriptions and their deliveries from the command line.

    liaison webhooks list [--topic T] [--off]
    liaison webhooks deliveries [--subscription ID] [--status failed] [--last 20]
    liaison webhooks redeliver DELIVERY_ID
    liaison webhooks on|off SUBSCRIPTION_ID
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from liaison.core.errors import LiaisonError
from liaison.webhooks import services
from liaison.webhooks.models import Delivery, Subscription


class Command(BaseCommand):
    help = "List webhook subscriptions and deliveries; send a delivery again; turn a subscription on or off."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="Subscriptions")
        listing.add_argument("--topic")
        listing.add_argument("--off", action="store_true", help="Only those turned off")
        deliveries = sub.add_parser("deliveries", help="The delivery log, newest first")
        deliveries.add_argument("--subscription", type=int)
        deliveries.add_argument("--status", choices=Delivery.Status.values)
        deliveries.add_argument("--last", type=int, default=20)
        again = sub.add_parser("redeliver", help="Send a failed or cancelled delivery again")
        again.add_argument("delivery_id", type=int)
        for name in ("on", "off"):
            switch = sub.add_parser(name, help=f"Turn a subscription {name}")
            switch.add_argument("subscription_id", type=int)

    def handle(self, *args, action, **options):
        if action == "list":
            rows = services.filter_subscriptions({"topic": options["topic"], "active": False if options["off"] else None})
            for s in rows:
                state = "on" if s.active else f"OFF ({s.disabled_reason})"
                self.stdout.write(f"#{s.pk}  {s.topic}  {s.scope or '*'}  {s.url}  [{s.owner or 'people'}]  {state}")
            return
        if action == "deliveries":
            rows = services.filter_deliveries({"subscription": options["subscription"], "status": options["status"]})
            for d in rows[: max(1, options["last"])]:
                self.stdout.write(f"#{d.pk}  {d.created_at:%Y-%m-%d %H:%M:%S}  {d.topic}  {d.status}  "
                                  f"attempts={d.attempts}  code={d.response_code or '-'}  {d.last_error[:120]}")
            return
        if action == "redeliver":
            delivery = Delivery.objects.select_related("subscription").filter(pk=options["delivery_id"]).first()
            if delivery is None:
                raise CommandError(f"There is no delivery #{options['delivery_id']}.")
            try:
                services.redeliver(delivery)
            except LiaisonError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Delivery #{delivery.pk} queued again.")
            return
        subscription = Subscription.objects.filter(pk=options["subscription_id"]).first()
        if subscription is None:
            raise CommandError(f"There is no subscription #{options['subscription_id']}.")
        if action == "on":
            services.enable(subscription)
        else:
            services.disable(subscription, "Turned off from the command line.")
        self.stdout.write(f"Subscription #{subscription.pk} is {'on' if subscription.active else 'off'}.")
