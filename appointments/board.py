"""The admin's day board (SPEC §14.6): one local day of a business, a column per
resource, each appointment a block placed by its time.

Laid out here, rendered by HTML and CSS alone (templates/admin/appointments/
appointment/board.html): every block's offset and height are pixels from the day's
first instant, so a day that a DST change makes 23 or 25 hours long is that tall, its
hour lines labelled with the wall time each hour shows."""

import dataclasses
import datetime as dt

from django.urls import reverse

from accounts.models import Business
from appointments.models import Appointment, Resource
from appointments.rules import LONGEST
from core.moments import local_day_bounds

PIXELS_PER_HOUR = 48
SHORTEST_BLOCK = 22  # pixels: a 10-minute appointment still shows its name


@dataclasses.dataclass
class Block:
    appointment: Appointment
    top: int
    height: int
    label: str
    url: str
    lane: int = 0
    lanes: int = 1
    # Whether it starts before the day, or ends after it.
    continued: bool = False
    continues: bool = False

    @property
    def left_percent(self) -> float:
        return round(100 * self.lane / self.lanes, 3)

    @property
    def width_percent(self) -> float:
        return round(100 / self.lanes, 3)


@dataclasses.dataclass
class Column:
    title: str
    blocks: list[Block]
    retired: bool = False


@dataclasses.dataclass
class HourLine:
    label: str
    top: int


@dataclasses.dataclass
class DayBoard:
    business: Business
    day: dt.date
    hours: list[HourLine]
    columns: list[Column]
    height: int

    @property
    def previous_day(self) -> dt.date:
        return self.day - dt.timedelta(days=1)

    @property
    def next_day(self) -> dt.date:
        return self.day + dt.timedelta(days=1)

    @property
    def hour_count(self) -> int:
        return len(self.hours)

    @classmethod
    def of(cls, business: Business, day: dt.date) -> "DayBoard":
        """The board of `day` on the business's clock: its active resources in list
        order, then any retired one with an appointment that day, then "No resource"
        when some have none; the appointments that overlap the day (DELETED ones left
        out)."""
        zone = business.zone
        start, end = local_day_bounds(day, zone)
        appointments = list(
            Appointment.objects.for_business(business.pk)
            .not_deleted()
            .filter(starts_at__lt=end, ends_at__gt=start, starts_at__gt=start - LONGEST)
            .in_start_order()
        )
        by_resource: dict[int | None, list[Appointment]] = {}
        for appointment in appointments:
            by_resource.setdefault(appointment.resource_id, []).append(appointment)
        resources = Resource.objects.for_business(business.pk).in_list_order()
        shown = [r for r in resources if r.active or r.pk in by_resource]
        columns = [
            Column(
                title=resource.name,
                blocks=placed(by_resource.get(resource.pk, []), start, end, zone),
                retired=not resource.active,
            )
            for resource in shown
        ]
        if None in by_resource:
            columns.append(Column("No resource", placed(by_resource[None], start, end, zone)))
        return cls(
            business=business,
            day=day,
            hours=hour_lines(start, end, zone),
            columns=columns,
            height=pixels(end - start),
        )


def pixels(span: dt.timedelta) -> int:
    return round(span / dt.timedelta(hours=1) * PIXELS_PER_HOUR)


def hour_lines(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> list[HourLine]:
    """A line at every hour of the day, labelled with the wall time it shows: 23 or
    25 of them on a day a DST change shortens or lengthens, whose labels then name the
    zone's abbreviation (01:00 CEST, 01:00 CET)."""
    instants = []
    moment = start
    while moment < end:
        instants.append(moment)
        moment += dt.timedelta(hours=1)
    shifts = len(instants) != 24
    return [
        HourLine(
            label=f"{instant.astimezone(zone):%H:%M}"
            + (f" {instant.astimezone(zone):%Z}" if shifts else ""),
            top=pixels(instant - start),
        )
        for instant in instants
    ]


def placed(
    appointments: list[Appointment], start: dt.datetime, end: dt.datetime, zone: dt.tzinfo
) -> list[Block]:
    """Blocks for one column's appointments (in start order), side by side in lanes
    where they overlap (a cancelled one and the one that took its slot)."""
    blocks = []
    for appointment in appointments:
        top = pixels(max(appointment.starts_at, start) - start)
        bottom = pixels(min(appointment.ends_at, end) - start)
        local_start = appointment.starts_at.astimezone(zone)
        local_end = appointment.ends_at.astimezone(zone)
        blocks.append(
            Block(
                appointment=appointment,
                top=top,
                height=max(bottom - top, SHORTEST_BLOCK),
                label=f"{local_start:%H:%M}–{local_end:%H:%M}",
                url=reverse("admin:appointments_appointment_change", args=[appointment.pk]),
                continued=appointment.starts_at < start,
                continues=appointment.ends_at > end,
            )
        )
    share_lanes(blocks)
    return blocks


def share_lanes(blocks: list[Block]) -> None:
    """Give each block a lane, the first free one, and to every block of a run of
    overlapping blocks the run's number of lanes (its width)."""
    run: list[Block] = []
    lane_ends: list[int] = []
    for block in blocks:
        if run and block.top >= max(lane_ends):
            for member in run:
                member.lanes = len(lane_ends)
            run, lane_ends = [], []
        free = next((n for n, lane_end in enumerate(lane_ends) if lane_end <= block.top), None)
        if free is None:
            lane_ends.append(block.top + block.height)
            block.lane = len(lane_ends) - 1
        else:
            lane_ends[free] = block.top + block.height
            block.lane = free
        run.append(block)
    for member in run:
        member.lanes = max(len(lane_ends), 1)
