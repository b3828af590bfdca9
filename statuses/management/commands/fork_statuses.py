from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from statuses.models import Status
from statuses.services import StatusList


class Command(BaseCommand):
    help = (
        "Copy the shared default status list into a business, which then has its own list. "
        "Does nothing to a business that already has its own list, so it is safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", type=int, required=True, help="business id, e.g. 43111")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be copied; change nothing"
        )

    def handle(self, *args, business: int, dry_run: bool, **options):
        target = Business.objects.filter(pk=business).first()
        if target is None:
            raise CommandError(f"There is no business {business}.")
        own_count = Status.objects.for_business(target.pk).count()
        if own_count:
            self.stdout.write(
                f"{target} already has its own status list ({own_count} statuses); nothing to do."
            )
            return
        if dry_run:
            shared_count = Status.objects.shared().count()
            self.stdout.write(
                f"Dry run: would copy {shared_count} shared statuses into {target}; "
                "nothing was changed."
            )
            return
        copies = StatusList.of(target).fork()
        if not copies:
            # Someone else forked it between the check above and the lock.
            self.stdout.write(f"{target} already has its own status list; nothing to do.")
            return
        self.stdout.write(
            self.style.SUCCESS(f"Copied {len(copies)} shared statuses into {target}.")
        )
