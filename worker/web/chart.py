"""The overview's chart: outcomes per minute over the last hour, as inline SVG drawn on the
server (no script, nothing loaded). Each minute is one bar stacked by outcome, so its height is
the minute's throughput; a bar's tooltip (an SVG <title>) gives its numbers. An hour with no
outcome draws the empty axes and says so."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from worker.ops.history import OUTCOMES, Minute
from worker.web.html import Markup, join, render

COLOURS = {"succeeded": "#2e9e5b", "skipped": "#8a9bb0", "superseded": "#9b6fd1",
           "deferred": "#e0a030", "dead": "#d64545", "cancelled": "#3b7dd8",
           "expired": "#6b7f99"}
OTHER_COLOUR = "#5b6470"
WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above `value`: round numbers on the axis."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _names(history: Sequence[Minute]) -> list[str]:
    extra = sorted({name for m in history for name in m.counts if name not in OUTCOMES})
    return [*OUTCOMES, *extra]


def _clock(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%H:%M")


def _bars(history: Sequence[Minute], names: list[str], top: int) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(history))
    bars = []
    for index, minute in enumerate(history):
        if not minute.total:
            continue
        x = LEFT + index * slot + slot * 0.1
        y = float(TOP + plot_h)
        rects = []
        for name in names:
            count = minute.counts.get(name, 0)
            if not count:
                continue
            height = plot_h * count / top
            y -= height
            rects.append(render('<rect x="$x" y="$y" width="$w" height="$h" fill="$c"/>',
                                x=f"{x:.1f}", y=f"{y:.1f}", w=f"{slot * 0.8:.1f}",
                                h=f"{height:.1f}", c=COLOURS.get(name, OTHER_COLOUR)))
        detail = ", ".join(f"{minute.counts[n]} {n}" for n in names if minute.counts.get(n))
        bars.append(render("<g><title>$when UTC: $total ($detail)</title>$rects</g>",
                           when=_clock(minute.minute), total=minute.total, detail=detail,
                           rects=join(rects)))
    return join(bars)


def _axes(history: Sequence[Minute], top: int) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        parts.append(render(
            '<line x1="$l" y1="$y" x2="$r" y2="$y" stroke="#d9dee5" stroke-width="1"/>'
            '<text x="$tx" y="$ty" text-anchor="end" font-size="11" fill="#5b6470">$v</text>',
            l=LEFT, r=WIDTH - RIGHT, y=f"{y:.1f}", tx=LEFT - 6, ty=f"{y + 4:.1f}",
            v=f"{top * fraction:g}"))
    if history:
        slot = (WIDTH - LEFT - RIGHT) / len(history)
        for index in sorted({0, len(history) // 2, len(history) - 1}):
            minute = history[index]
            ago = len(history) - 1 - index
            label = f"{_clock(minute.minute)} ({ago} min ago)" if ago else \
                f"{_clock(minute.minute)} (now)"
            anchor = "start" if index == 0 else "end" if ago == 0 else "middle"
            parts.append(render(
                '<text x="$x" y="$y" text-anchor="$a" font-size="11" fill="#5b6470">$t</text>',
                x=f"{LEFT + index * slot + (slot if ago == 0 else 0):.1f}", y=HEIGHT - 8,
                a=anchor, t=label))
    return join(parts)


def legend(history: Sequence[Minute]) -> Markup:
    """Each outcome's colour and its total over the chart's hour."""
    items = []
    for name in _names(history):
        total = sum(m.counts.get(name, 0) for m in history)
        items.append(render(
            '<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
            'fill="$c"/></svg> $name <strong>$total</strong></li>',
            c=COLOURS.get(name, OTHER_COLOUR), name=name, total=total))
    return render('<ul class="legend">$items</ul>', items=join(items))


def outcome_chart(history: Sequence[Minute]) -> Markup:
    names = _names(history)
    busiest = max((m.total for m in history), default=0)
    top = _nice_ceiling(max(busiest, 1))
    empty = Markup("")
    if not busiest:
        empty = render('<text x="$x" y="$y" text-anchor="middle" font-size="13" '
                       'fill="#5b6470">No outcomes in the last hour</text>',
                       x=(LEFT + WIDTH - RIGHT) / 2, y=(TOP + HEIGHT - BOTTOM) / 2)
    total = sum(m.total for m in history)
    svg = render(
        '<svg class="chart" viewBox="0 0 $w $h" width="$w" height="$h" role="img" '
        'aria-label="$label">$axes$bars$empty</svg>',
        w=WIDTH, h=HEIGHT, axes=_axes(history, top), bars=_bars(history, names, top),
        empty=empty,
        label=f"Outcomes per minute over the last hour: {total} in all, busiest minute "
              f"{busiest}")
    return render('<figure class="chart">$svg<figcaption>$legend</figcaption></figure>',
                  svg=svg, legend=legend(history))
