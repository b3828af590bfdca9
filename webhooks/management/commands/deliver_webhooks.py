import signal

from django.core.management.base import BaseCommand

from webhooks.worker import Worker


class Command(BaseCommand):
    help = (
        "Deliver webhooks: turn new events into deliveries and make the due attempts, "
        "until SIGTERM or SIGINT (the attempts in flight are finished first)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Fan out the new events, make every attempt due now, then exit.",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=4,
            help="Attempts in flight at once (threads, each with its own connection).",
        )

    def handle(self, *args, once: bool, concurrency: int, **options):
        if concurrency < 1:
            self.stderr.write("--concurrency must be at least 1")
            raise SystemExit(2)
        worker = Worker(concurrency=concurrency)
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        worker.run(once=once)
        self.stdout.write("webhook worker stopped")
