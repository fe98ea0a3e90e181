"""Bar charts drawn on the server as inline SVG, without a charting library.

The geometry is computed here; `templates/finance/chart.html` writes the markup and
`static/css/finance.css` gives the colours. A chart is laid out in its own coordinate system
(the SVG `viewBox`, `WIDTH` units wide) and scales with the page. Amounts stay integer minor
units until they are placed on the axis, which steps in round numbers (1, 2, 2.5 or 5 times a
power of ten). The page shows every chart's figures in a table beside it: the SVG is an image
with a title and a description, never the only way to read the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 640
TICKS = 4  # about this many steps along the value axis

Formatter = Callable[[int], str]


def nice_step(span: int, ticks: int = TICKS) -> int:
    """The smallest round step (1, 2, 2.5 or 5 times 10^k) with which `ticks` steps cover `span`."""
    if span <= 0:
        return 0
    raw = -(-span // ticks)  # ceiling division, in integers
    power = 10 ** (len(str(raw)) - 1)
    candidates = [power, 2 * power, 5 * power // 2, 5 * power, 10 * power]
    return min(c for c in candidates if c >= raw)


@dataclass(frozen=True)
class Scale:
    """A value axis from `low` (≤ 0) to `high` (≥ 0) in steps of `step`."""

    low: int
    high: int
    step: int

    @classmethod
    def covering(cls, values: Sequence[int], ticks: int = TICKS) -> Scale:
        top = max([0, *values])
        bottom = min([0, *values])
        step = nice_step(top - bottom, ticks)
        if step == 0:
            return cls(0, 0, 0)
        return cls((bottom // step) * step, -(-top // step) * step, step)

    @property
    def ticks(self) -> list[int]:
        if self.step == 0:
            return [0]
        return list(range(self.low, self.high + self.step, self.step))

    def fraction(self, value: int) -> float:
        """Where `value` lies between `low` (0.0) and `high` (1.0)."""
        if self.high == self.low:
            return 0.0
        return (value - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str  # the CSS modifier: `chart__bar--<kind>`
    title: str = ""  # a tooltip for pointer users; the table carries the same figure


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    kind: str  # `grid` or `axis`


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"  # SVG `text-anchor`: start, middle or end
    kind: str = "label"


@dataclass(frozen=True)
class Series:
    kind: str  # the CSS modifier of its bars
    label: str  # already translated


@dataclass
class Chart:
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


def _r(value: float) -> float:
    return round(value, 1)


# --- horizontal bars: categories with long names (regions, objectives, the totals) -------

_LEFT = 8
_VALUE_SPACE = 140  # room right of the longest bar for its amount
_LEGEND = 30
_CATEGORY_LABEL = 24
_BAR = 20
_BAR_GAP = 4
_GROUP_GAP = 14
_AXIS_LABELS = 26


def horizontal_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    value_text: Formatter,
    tick_text: Formatter,
    *,
    category_kinds: Sequence[str] | None = None,
) -> Chart:
    """One group of bars per category (its label above them), one bar per series.

    `values[i][j]` is category i's amount for series j. With more than one series a legend
    heads the chart; with one, `category_kinds` may give each category's bar its own colour.
    Negative amounts are drawn left of the zero line.
    """
    scale = Scale.covering([v for row in values for v in row])
    plot_left, plot_right = _LEFT, WIDTH - _VALUE_SPACE
    plot_width = plot_right - plot_left

    def x_of(value: int) -> float:
        return plot_left + scale.fraction(value) * plot_width

    chart = Chart(WIDTH, 0)
    y = 4.0
    if len(series) > 1:
        x = float(_LEFT)
        for item in series:
            chart.rects.append(Rect(_r(x), y + 3, 14, 14, item.kind))
            chart.texts.append(Text(_r(x + 20), y + 15, item.label, kind="legend"))
            x += 40 + 8 * len(item.label)
        y += _LEGEND
    plot_top = y
    zero = x_of(0)
    for index, (label, row) in enumerate(zip(categories, values, strict=True)):
        chart.texts.append(Text(_LEFT, _r(y + 16), label, kind="category"))
        y += _CATEGORY_LABEL
        for item, value in zip(series, row, strict=True):
            end = x_of(value)
            left, right = min(zero, end), max(zero, end)
            chart.rects.append(
                Rect(
                    _r(left),
                    _r(y),
                    _r(right - left),
                    _BAR,
                    category_kinds[index] if category_kinds else item.kind,
                    f"{label} · {item.label}: {value_text(value)}"
                    if item.label
                    else f"{label}: {value_text(value)}",
                )
            )
            chart.texts.append(Text(_r(right + 6), _r(y + 15), value_text(value), kind="value"))
            y += _BAR + _BAR_GAP
        y += _GROUP_GAP
    plot_bottom = y - _GROUP_GAP
    for tick in scale.ticks:
        x = _r(x_of(tick))
        chart.lines.append(Line(x, _r(plot_top), x, _r(plot_bottom), "grid"))
        anchor = "start" if tick == scale.low else "middle"
        chart.texts.append(Text(x, _r(plot_bottom + 18), tick_text(tick), anchor, "tick"))
    chart.lines.append(Line(_r(zero), _r(plot_top), _r(zero), _r(plot_bottom), "axis"))
    chart.height = int(plot_bottom + _AXIS_LABELS)
    return chart


# --- vertical bars: a time series (months) -----------------------------------------------

_V_LEFT = 96  # room for the axis's amounts
_V_RIGHT = 12
_V_TOP = 12
_V_BOTTOM = 40
_V_HEIGHT = 300
_MAX_COLUMN_LABELS = 12


def vertical_bars(
    labels: Sequence[str],
    values: Sequence[int],
    titles: Sequence[str],
    tick_text: Formatter,
    *,
    positive: str = "positive",
    negative: str = "negative",
) -> Chart:
    """One column per label (a month), rising from the zero line, or falling below it for a
    negative amount; every `n`-th label is written when there are too many to fit."""
    scale = Scale.covering(values)
    plot_left, plot_right = _V_LEFT, WIDTH - _V_RIGHT
    plot_top, plot_bottom = _V_TOP, _V_HEIGHT - _V_BOTTOM
    plot_height = plot_bottom - plot_top

    def y_of(value: int) -> float:
        return plot_bottom - scale.fraction(value) * plot_height

    chart = Chart(WIDTH, _V_HEIGHT)
    for tick in scale.ticks:
        y = _r(y_of(tick))
        chart.lines.append(Line(plot_left, y, plot_right, y, "grid"))
        chart.texts.append(Text(plot_left - 8, _r(y + 5), tick_text(tick), "end", "tick"))
    count = len(values)
    if count:
        slot = (plot_right - plot_left) / count
        bar = min(48.0, slot * 0.7)
        every = -(-count // _MAX_COLUMN_LABELS)
        zero = y_of(0)
        for index, (label, value, title) in enumerate(zip(labels, values, titles, strict=True)):
            centre = plot_left + slot * index + slot / 2
            end = y_of(value)
            top, bottom = min(zero, end), max(zero, end)
            kind = negative if value < 0 else positive
            chart.rects.append(
                Rect(_r(centre - bar / 2), _r(top), _r(bar), _r(bottom - top), kind, title)
            )
            if index % every == 0:
                chart.texts.append(Text(_r(centre), plot_bottom + 22, label, "middle", "tick"))
        chart.lines.append(Line(plot_left, _r(zero), plot_right, _r(zero), "axis"))
    return chart
