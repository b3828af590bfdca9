"""The pipeline as a bar chart: the geometry an inline SVG draws (templates/admin/
reports/pipeline.html), computed here so the template only places what it is given."""

import datetime as dt
import math
from dataclasses import dataclass

WIDTH, HEIGHT = 900, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 36
# One bar per series in each bucket's slot, in this order.
SERIES = [
    ("bookings", "bookings"),
    ("reached_tentative", "reached tentative"),
    ("reached_definite", "reached definite"),
]
# The share of a slot the bars fill; the rest separates the buckets.
BARS_SHARE = 0.8
MOST_X_LABELS = 13


@dataclass(frozen=True)
class Bar:
    series: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    """A labelled position on an axis (x for the buckets, y for the counts)."""

    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    baseline: float
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def bucket_label(bucket: dt.date, interval: str) -> str:
    return f"{bucket:%b %Y}" if interval == "month" else bucket.isoformat()


def nice_step(largest: int) -> int:
    """A step of 1, 2 or 5 times a power of ten that divides 0..largest into at most 5."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if largest <= step * factor * 5:
                return step * factor
        step *= 10


def pipeline_chart(rows: list[dict], interval: str) -> Chart:
    """Grouped bars per bucket (bookings, reached tentative, reached definite), each
    with a title that says its bucket and count; a y axis of round counts."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    step = nice_step(max((row["bookings"] for row in rows), default=0))
    top = step * max(math.ceil(max((row["bookings"] for row in rows), default=0) / step), 1)
    slot = plot_width / len(rows)
    bar_width = slot * BARS_SHARE / len(SERIES)
    label_every = math.ceil(len(rows) / MOST_X_LABELS)
    bars, x_ticks = [], []
    for index, row in enumerate(rows):
        slot_left = LEFT + index * slot + slot * (1 - BARS_SHARE) / 2
        label = bucket_label(row["bucket"], interval)
        for position, (key, name) in enumerate(SERIES):
            height = plot_height * row[key] / top
            bars.append(
                Bar(
                    series=key,
                    x=round(slot_left + position * bar_width, 2),
                    y=round(baseline - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    title=f"{label}: {row[key]} {name}",
                )
            )
        if index % label_every == 0:
            x_ticks.append(Tick(round(LEFT + (index + 0.5) * slot, 2), label))
    y_ticks = [
        Tick(round(baseline - plot_height * count / top, 2), str(count))
        for count in range(0, top + 1, step)
    ]
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, baseline, bars, x_ticks, y_ticks)
