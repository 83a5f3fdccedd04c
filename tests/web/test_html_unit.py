"""The console's HTML helpers escape every value they are given, and its chart draws the last
hour from the per-minute counts (an empty hour as empty axes)."""

from __future__ import annotations

import re

from worker.ops.history import OUTCOMES, Minute
from worker.web.chart import outcome_chart
from worker.web.html import Markup, escape, render, table, url


def test_render_escapes_every_value_but_markup() -> None:
    """Text, numbers and None are escaped (quotes too); Markup goes in as it is."""
    out = render('<a title="$t">$body</a>$safe', t='"><script>', body="<b>&",
                 safe=Markup("<i>ok</i>"))
    assert out == '<a title="&quot;&gt;&lt;script&gt;">&lt;b&gt;&amp;</a><i>ok</i>'
    assert escape(None) == "-" and escape("it's") == "it&#x27;s"


def test_tables_escape_cells_and_say_when_empty() -> None:
    """Cells are escaped; no rows: the empty message instead of a table."""
    assert "&lt;x&gt;" in table(["a"], [["<x>"]])
    assert table(["a"], [], empty="None <here>") == '<p class="empty">None &lt;here&gt;</p>'


def test_urls_quote_their_query_and_drop_empty_values() -> None:
    """A value with & or = cannot add parameters; empty filters are left out."""
    assert url("/dead-letters", reason="not_found", account="") == \
        "/dead-letters?reason=not_found"
    assert url("/lookup/job", id="a&b=c") == "/lookup/job?id=a%26b%3Dc"


def hour(counts: dict[int, dict[str, int]]) -> list[Minute]:
    return [Minute(1000 + i, {**dict.fromkeys(OUTCOMES, 0), **counts.get(i, {})})
            for i in range(60)]


def test_an_empty_hour_draws_empty_axes() -> None:
    """No bar, the axis from 0 to 1, and a sentence saying there was nothing."""
    chart = outcome_chart(hour({}))
    assert "No outcomes in the last hour" in chart
    assert "<g><title>" not in chart
    assert 'aria-label="Outcomes per minute over the last hour: 0 in all' in chart


def test_each_busy_minute_is_one_bar_stacked_by_outcome() -> None:
    """Two busy minutes: two bars, as tall as their totals on a round-numbered axis, each
    with its numbers in a tooltip; the legend sums the hour."""
    chart = outcome_chart(hour({0: {"succeeded": 30, "dead": 10}, 59: {"skipped": 20}}))
    bars = re.findall(r"<g><title>([^<]*)</title>(.*?)</g>", chart)
    assert [title for title, _ in bars] == ["16:40 UTC: 40 (30 succeeded, 10 dead)",
                                          "17:39 UTC: 20 (20 skipped)"]
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" fill="#', bars[0][1])]
    assert heights == [98.4, 32.8]  # 30 and 10 of an axis up to 50, 164 px tall
    assert ">50</text>" in chart and "No outcomes" not in chart
    assert "succeeded <strong>30</strong>" in chart and "dead <strong>10</strong>" in chart
