import signal

from django.core.management.base import BaseCommand

from scheduler.runner import Scheduler


class Command(BaseCommand):
    help = (
        "Move what time makes due (holds to remind and to expire), every few seconds, "
        "until SIGTERM or SIGINT (the batch in hand is finished first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Do everything due now, then exit.")

    def handle(self, *args, once: bool, **options):
        scheduler = Scheduler()
        signal.signal(signal.SIGTERM, scheduler.stop)
        signal.signal(signal.SIGINT, scheduler.stop)
        moved = scheduler.run(once=once)
        summary = ", ".join(f"{job.name}: {moved[job.name]}" for job in scheduler.jobs)
        self.stdout.write(f"scheduler {'done' if once else 'stopped'} ({summary})")
