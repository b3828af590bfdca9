from django.core.management.base import BaseCommand

from core.models import IdempotencyKey


class Command(BaseCommand):
    help = (
        "Delete stored Idempotency-Key answers older than 24 hours (they are no longer "
        "replayed). Safe to run at any time, e.g. daily from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count; delete nothing.")

    def handle(self, *args, dry_run: bool, **options):
        expired = IdempotencyKey.objects.expired()
        if dry_run:
            self.stdout.write(f"Would delete {expired.count()} expired idempotency keys.")
            return
        deleted, _ = expired.delete()
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} expired idempotency keys."))
