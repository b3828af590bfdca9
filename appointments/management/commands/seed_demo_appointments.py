"""Demo data for appointments: a business's resources and a week of appointments around
today in mixed statuses, so that the day board and the appointments report show
something on first run (`dev.py serve` runs it after seed_demo)."""

import datetime as dt
import random

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Business
from appointments.actions import Target, change_status, create_appointment, create_resource
from appointments.models import Resource
from core.errors import DomainError
from core.models import ChangeSource

RESOURCES = ["Anna (stylist)", "Ben (stylist)", "Colour room", "Treatment room"]
CLIENTS = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "Tim Berners-Lee",
    "Frances Allen",
    "John Backus",
    "Radia Perlman",
]
# The business's opening hours, on its own clock, and the lengths offered (minutes).
OPENS, CLOSES = 9, 18
LENGTHS = [30, 45, 60, 90]


class Command(BaseCommand):
    help = (
        "Give a business resources and a week of appointments around today (three days "
        "before to three after) in mixed statuses, through the same write paths as the "
        "API. Does nothing for a business that has resources already: safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", type=int, required=True, help="the business's id")
        parser.add_argument("--seed", type=int, default=14, help="for the random choices")

    def handle(self, *args, business: int, seed: int, verbosity: int, **options):
        found = Business.objects.filter(pk=business).first()
        if found is None:
            raise CommandError(f"There is no business {business}.")
        if Resource.objects.for_business(found.pk).exists():
            if verbosity:
                self.stdout.write(f"{found} has resources already: nothing added.")
            return
        with transaction.atomic():
            count = self.fill(found, random.Random(seed))
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Added {len(RESOURCES)} resources and {count} appointments to {found}."
                )
            )

    def fill(self, business: Business, chance: random.Random) -> int:
        resources = [create_resource(business.pk, name=name) for name in RESOURCES]
        zone = business.zone
        today = timezone.now().astimezone(zone).date()
        now = timezone.now()
        count = 0
        for offset in range(-3, 4):
            day = today + dt.timedelta(days=offset)
            for resource in resources:
                moment = dt.datetime.combine(day, dt.time(OPENS), tzinfo=zone)
                closing = dt.datetime.combine(day, dt.time(CLOSES), tzinfo=zone)
                while True:
                    moment += dt.timedelta(minutes=chance.choice([0, 0, 15, 30, 60]))
                    length = dt.timedelta(minutes=chance.choice(LENGTHS))
                    if moment + length > closing:
                        break
                    made = self.appointment(business, resource, moment, length, now, chance)
                    count += made
                    moment += length
        return count

    def appointment(self, business, resource, starts_at, length, now, chance) -> int:
        """One appointment, moved on as a receptionist would have; 0 when the list
        refuses a move (the demo's list is the shared one, so it does not)."""
        fields = {
            "resource_id": resource.pk,
            "starts_at": starts_at.astimezone(dt.UTC),
            "ends_at": (starts_at + length).astimezone(dt.UTC),
            "client_name": chance.choice(CLIENTS),
            "client_email": "",
            "notes": "",
        }
        pending = chance.random() < 0.15 and starts_at > now
        initial = Target(status="PENDING", sub_status="PENDING") if pending else Target()
        try:
            made = create_appointment(
                business.pk, fields, target=initial, source=ChangeSource.COMMAND
            )
            for target in self.later_moves(made, now, chance):
                change_status(business.pk, made.pk, target, source=ChangeSource.COMMAND)
        except DomainError:
            return 0
        return 1

    def later_moves(self, appointment, now, chance) -> list[Target]:
        fate = chance.random()
        if appointment.ends_at <= now:
            if fate < 0.7:
                return [Target(status="COMPLETED", sub_status="COMPLETED")]
            if fate < 0.85:
                return [Target(status="NO_SHOW", sub_status="NO_SHOW")]
            return [Target(status="CANCELLED", sub_status="CANCELLED")]
        if appointment.starts_at <= now:
            return [Target(status="OPEN", sub_status="INPROGRESS")]
        if fate < 0.15:
            return [Target(status="CANCELLED", sub_status="CANCELLED")]
        if fate < 0.35 and appointment.status == "OPEN":
            return [Target(status="OPEN", sub_status="CONFIRMED")]
        return []
