"""Generate businesses and bookings with realistic status histories.

For benchmarks and demos: `--count 1000000` takes minutes on PostgreSQL, where
rows are streamed with COPY; on SQLite they go in with batched INSERTs.

Every booking starts as a lead (`created_at`); most then move on through
tentative, definite or lost at plausible intervals, each move recorded as a
history entry (source api or admin) exactly as change_status would have left
the booking. A few get a later correction of their current status (a re-stamp),
so "the latest history entry" and "the latest moment" are not always the same.

`--broken-fraction F` breaks that fraction of the bookings on purpose, one kind
of damage each (chosen evenly), so the data-fix commands have work:

- backfill: every `*_at` of the booking is null while its `*_date` is set
  (data from before the datetime fields);
- mismatched: one `*_date` is a day off its `*_at`, or null;
- stray lost: `lost_*` set on a booking that is not lost;
- missing: the current status's own `_at` and `_date` are null (for a third of
  these the history to that status is gone too, so only `updated_at` is left).
"""

import datetime as dt
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Business, validate_time_zone_name
from bookings.models import Booking, BookingStatusChange
from bookings.stamping import BookingStatus, status_date_of, status_stamp
from core.models import ChangeSource

# The columns each generated row fills, in the models' order (the COPY/INSERT order).
BOOKING_FIELDS = tuple(field.attname for field in Booking._meta.concrete_fields)
HISTORY_FIELDS = tuple(
    field.attname for field in BookingStatusChange._meta.concrete_fields if not field.primary_key
)
TO_STATUS = HISTORY_FIELDS.index("to_status")
BROKEN_KINDS = ("backfill", "mismatched", "stray_lost", "missing")

# The paths a booking's status takes, with how often (weights sum to 100).
PATHS = (
    ((), 25),
    (("tentative",), 18),
    (("tentative", "definite"), 24),
    (("definite",), 10),
    (("lost",), 10),
    (("tentative", "lost"), 8),
    (("tentative", "definite", "lost"), 5),
)
OCCASIONS = ("wedding", "gala dinner", "conference", "product launch", "birthday party", "offsite")
SEASONS = ("Spring", "Summer", "Autumn", "Winter", "Annual", "Charity", "Team", "Family")
STAFF = ("alice", "bruno", "chen", "dana", "emeka", "farah")
DAY = 86_400


@dataclass
class GeneratedBooking:
    row: dict
    zone: dt.tzinfo  # its business's time zone, in which its status dates are
    history: list[tuple] = field(default_factory=list)
    broken: str | None = None


class BookingFactory:
    """Builds one booking (a dict of column values) and its history tuples."""

    def __init__(self, rng: random.Random, now: dt.datetime, broken_fraction: float) -> None:
        self.rng = rng
        self.now = now
        self.broken_fraction = broken_fraction
        self.paths = [path for path, _ in PATHS]
        self.weights = [weight for _, weight in PATHS]

    def moment_after(self, moment: dt.datetime, mean_days: float) -> dt.datetime:
        """A moment some time after `moment` (`mean_days` on average), never in the future."""
        later = moment + dt.timedelta(seconds=int(self.rng.expovariate(1 / (mean_days * DAY))))
        latest = self.now - dt.timedelta(seconds=self.rng.randrange(60, 3600))
        return max(moment, min(later, latest))

    def build(self, pk: int, business_id: int, zone: dt.tzinfo) -> GeneratedBooking:
        rng = self.rng
        broken = rng.choice(BROKEN_KINDS) if rng.random() < self.broken_fraction else None
        path = rng.choices(self.paths, self.weights)[0]
        while not self.can_break(broken, path):
            path = rng.choices(self.paths, self.weights)[0]

        created_at = self.now - dt.timedelta(seconds=rng.randrange(DAY, 730 * DAY))
        starts_at = (created_at + dt.timedelta(days=rng.randrange(7, 400))).replace(
            hour=rng.randrange(9, 20), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0
        )
        row = {
            "id": pk,
            "business_id": business_id,
            "name": f"{rng.choice(SEASONS)} {rng.choice(OCCASIONS)}",
            "starts_at": starts_at,
            "ends_at": starts_at + dt.timedelta(hours=rng.randrange(2, 13)),
            "guest_count": rng.randrange(10, 400),
            "notes": "",
            "status": BookingStatus.LEAD.value,
            "tentative_date": None,
            "tentative_at": None,
            "definite_date": None,
            "definite_at": None,
            "lost_date": None,
            "lost_at": None,
            "lost_reason": None,
            "lost_note": None,
            "hold_until": None,
            "hold_reminded_at": None,
            "created_at": created_at,
            "updated_at": created_at,
            "version": 1,
        }
        generated = GeneratedBooking(row=row, zone=zone, broken=broken)
        moment = created_at
        for status in path:
            moment = self.moment_after(moment, mean_days=6)
            self.change_status(generated, status, moment)
        if path and rng.random() < 0.05:
            # A correction: the current status re-stamped, a little earlier or later.
            shifted = moment + dt.timedelta(seconds=rng.randrange(-DAY, DAY))
            self.change_status(generated, path[-1], min(max(shifted, created_at), self.now))
        if broken:
            self.break_booking(generated, path)
        return generated

    @staticmethod
    def can_break(broken: str | None, path: tuple[str, ...]) -> bool:
        if broken == "stray_lost":  # needs a booking that is not lost
            return path[-1:] != ("lost",)
        return broken is None or bool(path)  # the others need a status date

    def change_status(self, generated: GeneratedBooking, status: str, moment: dt.datetime) -> None:
        """What Booking.change_status leaves behind, without the round trips."""
        row, rng = generated.row, self.rng
        recorded_at = moment if rng.random() < 0.8 else self.moment_after(moment, mean_days=0.2)
        generated.history.append(
            (
                row["id"],
                row["business_id"],
                row["status"],
                status,
                moment,
                recorded_at,
                rng.choice(STAFF) if rng.random() < 0.6 else None,
                ChangeSource.ADMIN.value if rng.random() < 0.3 else ChangeSource.API.value,
                None,  # lost_reason
                None,  # lost_note
            )
        )
        row.update(status_stamp(status, moment, generated.zone))
        row["updated_at"] = max(row["updated_at"], recorded_at)

    def break_booking(self, generated: GeneratedBooking, path: tuple[str, ...]) -> None:
        row, rng, status = generated.row, self.rng, generated.row["status"]
        if generated.broken == "backfill":
            for reached in set(path):
                row[f"{reached}_at"] = None
        elif generated.broken == "mismatched":
            reached = rng.choice(sorted(set(path)))
            if rng.random() < 0.2:
                row[f"{reached}_date"] = None
            else:
                row[f"{reached}_date"] += dt.timedelta(days=rng.choice((-1, 1)))
        elif generated.broken == "stray_lost":
            lost_at = self.moment_after(row["updated_at"], mean_days=3)
            row["lost_at"], row["lost_date"] = lost_at, status_date_of(lost_at, generated.zone)
        elif generated.broken == "missing":
            row[f"{status}_at"] = row[f"{status}_date"] = None
            if rng.random() < 1 / 3:
                generated.history = [
                    entry for entry in generated.history if entry[TO_STATUS] != status
                ]


class Command(BaseCommand):
    help = (
        "Generate businesses and bookings with realistic statuses, dates and history, "
        "optionally with some rows broken for the data-fix commands."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="Bookings to create.")
        parser.add_argument(
            "--businesses", type=int, required=True, help="Businesses to spread them over."
        )
        parser.add_argument("--seed", type=int, help="Random seed (default: a random one).")
        parser.add_argument(
            "--first-business-id",
            type=int,
            default=100_001,
            metavar="ID",
            help="Businesses get ids ID, ID+1, ... (created if missing; default 100001).",
        )
        parser.add_argument(
            "--timezones",
            default="UTC",
            metavar="ZONE,...",
            help="IANA zones given in turn to the businesses created (default UTC); "
            "existing businesses keep theirs.",
        )
        parser.add_argument(
            "--broken-fraction",
            type=float,
            default=0.0,
            metavar="F",
            help="Fraction of bookings to break on purpose for the data-fix commands (0..1).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=20_000,
            metavar="N",
            help="Bookings per transaction (default 20000).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(
        self,
        *args,
        count: int,
        businesses: int,
        seed: int | None,
        first_business_id: int,
        broken_fraction: float,
        batch_size: int,
        no_progress: bool,
        timezones: str,
        **options,
    ) -> None:
        if count < 0 or businesses < 1 or batch_size < 1:
            raise CommandError("--count must be >= 0, --businesses and --batch-size >= 1.")
        if not 0 <= broken_fraction <= 1:
            raise CommandError("--broken-fraction must be between 0 and 1.")
        zone_names = [name.strip() for name in timezones.split(",")]
        for name in zone_names:
            try:
                validate_time_zone_name(name)
            except ValidationError as error:
                raise CommandError(f"--timezones: {' '.join(error.messages)}") from None
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
        factory = BookingFactory(random.Random(seed), timezone.now(), broken_fraction)
        business_ids = range(first_business_id, first_business_id + businesses)
        Business.objects.bulk_create(
            [
                Business(
                    id=pk,
                    name=f"Benchmark venue {pk}",
                    timezone=zone_names[index % len(zone_names)],
                )
                for index, pk in enumerate(business_ids)
            ],
            ignore_conflicts=True,
        )
        zones = {
            pk: business.zone
            for pk, business in Business.objects.filter(pk__in=business_ids).in_bulk().items()
        }

        started = time.monotonic()
        broken: Counter[str] = Counter()
        history_count = 0
        with tqdm(
            total=count,
            desc="generate_bookings",
            unit="booking",
            file=sys.stderr,
            disable=no_progress or not sys.stderr.isatty(),
        ) as progress:
            for batch_start in range(0, count, batch_size):
                size = min(batch_size, count - batch_start)
                written, batch_broken = self.write_batch(factory, size, business_ids, zones)
                history_count += written
                broken.update(batch_broken)
                progress.update(size)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Booking._meta.db_table}")
                cursor.execute(f"ANALYZE {BookingStatusChange._meta.db_table}")

        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {count} bookings and {history_count} history entries for "
                f"{businesses} businesses ({business_ids[0]}..{business_ids[-1]}) "
                f"in {time.monotonic() - started:.1f}s, seed {seed}."
            )
        )
        if broken_fraction:
            self.stdout.write(
                "Broken on purpose: "
                f"{broken['backfill']} bookings need a backfill "
                f"({broken['backfill_datetimes']} datetimes), "
                f"{broken['mismatched']} mismatched dates, "
                f"{broken['stray_lost']} stray lost dates, "
                f"{broken['missing']} missing status dates."
            )

    def write_batch(
        self,
        factory: BookingFactory,
        size: int,
        business_ids: range,
        zones: dict[int, dt.tzinfo],
    ) -> tuple[int, Counter[str]]:
        """Generate and insert `size` bookings in one transaction; return the number
        of history entries written and the broken bookings per kind."""
        broken: Counter[str] = Counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # Ids are assigned here: keep other writers out until the sequence is reset.
                    cursor.execute(
                        f"LOCK TABLE {Booking._meta.db_table} IN SHARE ROW EXCLUSIVE MODE"
                    )
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Booking._meta.db_table}")
                first_pk = cursor.fetchone()[0] + 1
            generated = []
            for pk in range(first_pk, first_pk + size):
                business_id = factory.rng.choice(business_ids)
                booking = factory.build(pk, business_id, zones[business_id])
                generated.append(booking)
                if booking.broken:
                    broken[booking.broken] += 1
                    if booking.broken == "backfill":
                        broken["backfill_datetimes"] += sum(
                            1
                            for status in ("tentative", "definite", "lost")
                            if booking.row[f"{status}_date"] and not booking.row[f"{status}_at"]
                        )
            bookings = (tuple(b.row[name] for name in BOOKING_FIELDS) for b in generated)
            history = (entry for booking in generated for entry in booking.history)
            self.insert(Booking, BOOKING_FIELDS, bookings)
            written = self.insert(BookingStatusChange, HISTORY_FIELDS, history)
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), [Booking]):
                    cursor.execute(statement)
        return written, broken

    def insert(self, model, field_names: tuple[str, ...], rows: Iterator[tuple]) -> int:
        """Insert `rows` (values in `field_names` order) into `model`'s table: COPY on
        PostgreSQL, batched INSERTs elsewhere. Returns the number of rows."""
        fields = [model._meta.get_field(name) for name in field_names]
        table = connection.ops.quote_name(model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        written = 0
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        written += 1
                return written
            # auto_now would overwrite updated_at in bulk_create: plain INSERTs keep it.
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
            prepared = [
                tuple(
                    f.get_db_prep_value(value, connection, prepared=False)
                    for f, value in zip(fields, row, strict=True)
                )
                for row in rows
            ]
            cursor.executemany(sql, prepared)
            return len(prepared)
