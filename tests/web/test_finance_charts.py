"""The dashboard's SVG charts: round axis steps, bars in proportion to their amounts, negative
months below the zero line, and month labels thinned when there are many."""

from __future__ import annotations

import pytest

from app.web.charts import WIDTH, Scale, Series, horizontal_bars, nice_step, vertical_bars


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (500_000_000, 200_000_000),  # US$5M in about four steps: US$2M steps
        (100_000_000, 25_000_000),  # US$1M: US$250K steps
        (90_000, 25_000),
        (7, 2),
        (4, 1),
        (0, 0),
    ],
)
def test_the_axis_steps_in_round_numbers(span: int, step: int) -> None:
    assert nice_step(span) == step


def test_a_scale_reaches_both_sides_of_zero_in_whole_steps() -> None:
    scale = Scale.covering([-10_000_000, 15_000_000])

    assert (scale.low, scale.high, scale.step) == (-10_000_000, 20_000_000, 10_000_000)
    assert scale.ticks == [-10_000_000, 0, 10_000_000, 20_000_000]
    assert scale.fraction(0) == pytest.approx(1 / 3)
    assert Scale.covering([0, 0]).ticks == [0]


def _as_text(minor: int) -> str:
    return f"{minor / 100:.2f}"


def test_bars_are_in_proportion_to_their_amounts_and_keep_their_colours() -> None:
    chart = horizontal_bars(
        ["Envelope", "Awarded", "Disbursed"],
        [Series("total", "")],
        [[50_000], [25_000], [10_000]],
        _as_text,
        _as_text,
        category_kinds=("envelope", "awarded", "disbursed"),
    )

    widths = [rect.width for rect in chart.rects]
    assert widths[0] / widths[1] == pytest.approx(2, rel=0.01)
    assert widths[0] / widths[2] == pytest.approx(5, rel=0.01)
    assert [rect.kind for rect in chart.rects] == ["envelope", "awarded", "disbursed"]
    assert [rect.title for rect in chart.rects] == [
        "Envelope: 500.00",
        "Awarded: 250.00",
        "Disbursed: 100.00",
    ]
    # Each amount is written just right of its bar, inside the drawing.
    values = [text for text in chart.texts if text.kind == "value"]
    assert [text.text for text in values] == ["500.00", "250.00", "100.00"]
    for rect, text in zip(chart.rects, values, strict=True):
        assert text.x == pytest.approx(rect.x + rect.width + 6, abs=0.2)
    assert max(rect.x + rect.width for rect in chart.rects) < WIDTH
    # The axis: 0 to 600.00 in steps of 200.00 (500.00 rounded up to a whole step).
    assert [text.text for text in chart.texts if text.kind == "tick"] == [
        "0.00",
        "200.00",
        "400.00",
        "600.00",
    ]


def test_two_series_get_a_legend_and_a_bar_each_per_category() -> None:
    chart = horizontal_bars(
        ["Lima", "Cusco"],
        [Series("awarded", "Awarded"), Series("disbursed", "Disbursed")],
        [[30_000, 10_000], [20_000, 0]],
        _as_text,
        _as_text,
    )

    legend = [text.text for text in chart.texts if text.kind == "legend"]
    bars = [rect for rect in chart.rects if rect.title]
    assert legend == ["Awarded", "Disbursed"]
    assert [(rect.kind, rect.title) for rect in bars] == [
        ("awarded", "Lima · Awarded: 300.00"),
        ("disbursed", "Lima · Disbursed: 100.00"),
        ("awarded", "Cusco · Awarded: 200.00"),
        ("disbursed", "Cusco · Disbursed: 0.00"),
    ]
    assert bars[3].width == 0
    # Categories stack downwards, each label above its bars.
    categories = [text for text in chart.texts if text.kind == "category"]
    assert categories[0].y < bars[0].y < bars[1].y < categories[1].y < bars[2].y
    assert chart.height > bars[3].y + bars[3].height


def test_a_month_where_reversals_were_larger_falls_below_the_zero_line() -> None:
    chart = vertical_bars(
        ["Jan", "Feb"],
        [30_000, -10_000],
        ["January: 300.00", "February: -100.00"],
        _as_text,
        positive="disbursed",
        negative="reversed",
    )

    zero = next(line for line in chart.lines if line.kind == "axis").y1
    up, down = chart.rects
    assert (up.kind, down.kind) == ("disbursed", "reversed")
    assert up.y + up.height == pytest.approx(zero, abs=0.2)
    assert down.y == pytest.approx(zero, abs=0.2)
    assert up.height / down.height == pytest.approx(3, rel=0.01)
    assert [text.text for text in chart.texts if text.anchor == "end"] == [
        "-100.00",
        "0.00",
        "100.00",
        "200.00",
        "300.00",
    ]
    assert [text.text for text in chart.texts if text.anchor == "middle"] == ["Jan", "Feb"]


def test_only_every_fourth_of_48_months_is_labelled() -> None:
    months = [f"M{n}" for n in range(48)]

    chart = vertical_bars(months, [100] * 48, months, _as_text)

    labels = [text.text for text in chart.texts if text.kind == "tick" and text.anchor == "middle"]
    assert labels == [f"M{n}" for n in range(0, 48, 4)]
    assert len(chart.rects) == 48


def test_a_chart_without_months_has_no_bars() -> None:
    chart = vertical_bars([], [], [], _as_text)

    assert chart.rects == []
    assert [text.text for text in chart.texts] == ["0.00"]
