import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import IntegrityError, transaction
from django.utils import timezone

from events.models import Event
from webhooks.models import Delivery, DeliveryStatus


class Command(BaseCommand):
    help = (
        "Delete events older than EVENT_RETENTION_DAYS: per business, only a leading run "
        "of its feed, never its newest event nor one a webhook delivery still waits on "
        "(nor anything after that). Settled deliveries of the deleted events go with them. "
        "Idempotent; run it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count; delete nothing.")

    def handle(self, *args, dry_run: bool, **options):
        cutoff = timezone.now() - dt.timedelta(days=settings.EVENT_RETENTION_DAYS)
        businesses = list(
            Event.objects.visible()
            .filter(created_at__lt=cutoff)
            .order_by("business_id")
            .values_list("business_id", flat=True)
            .distinct()
        )
        events = deliveries = purged_businesses = 0
        for business_id in businesses:
            try:
                with transaction.atomic():
                    purged_events, purged_deliveries = self.purge(business_id, cutoff, dry_run)
            except IntegrityError:
                self.stderr.write(
                    f"Business {business_id}: a delivery was created meanwhile; run again."
                )
                continue
            events += purged_events
            deliveries += purged_deliveries
            purged_businesses += bool(purged_events)
        summary = (
            f"{events} events older than {settings.EVENT_RETENTION_DAYS} days in "
            f"{purged_businesses} businesses, and {deliveries} settled deliveries of them."
        )
        if dry_run:
            self.stdout.write(f"Would delete {summary}")
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {summary}"))

    def purge(self, business_id: int, cutoff: dt.datetime, dry_run: bool) -> tuple[int, int]:
        """One business's leading run, as (events, deliveries) deleted or to delete."""
        waited_on = Delivery.objects.filter(
            endpoint__business_id=business_id, status=DeliveryStatus.PENDING
        ).values("event_id")
        run = Event.objects.for_business(business_id).leading_run_older_than(cutoff, held=waited_on)
        last = run.last()
        if last is None:
            return 0, 0
        # The run is fixed by its last event: the events up to it in feed order are all
        # visible, and no transaction can commit among them any more, so the statements
        # below see the same rows even as the horizon moves on.
        purged = Event.objects.for_business(business_id).up_to(last)
        # Never a pending delivery: one a worker created meanwhile makes the event's
        # deletion fail on its foreign key instead, and the business waits for a re-run.
        settled = Delivery.objects.filter(event__in=purged).exclude(status=DeliveryStatus.PENDING)
        if dry_run:
            return purged.count(), settled.count()
        deliveries, _ = settled.delete()
        # A plain DELETE: Django's delete() would load every event to check the
        # deliveries that protect them, which are gone by now.
        return purged._raw_delete(purged.db), deliveries
