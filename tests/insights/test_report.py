"""The HTML report: every day of the period on an even axis, a scaled answer-rate axis, the
generation date, the "now answered" section and readable empty states.

Structural tests read the HTML and SVG with the standard library and always run. One test renders
the page in a real browser (headless Chromium, when installed; skipped otherwise, e.g. on CI
with only Python) and measures what the browser laid out.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.insights.questionlog import Gap, Stats
from bot.insights.report import (
    NO_FIXED,
    NO_GAPS,
    NO_QUESTIONS,
    NOTHING_ASKED,
    RATE_TICKS,
    chart_slots,
    chart_svg,
    count_ticks,
    render_html,
)
from helpers import source

GENERATED = datetime(2026, 11, 25, 14, 50, tzinfo=UTC)


class Elements(HTMLParser):
    """Every element as (tag, attributes, text inside it)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict, list[str]]] = []
        self.open: list[list[str]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        text: list[str] = []
        self.found.append((tag, dict(attrs), text))
        if tag not in {"line", "rect", "circle", "polyline", "meta", "br"}:
            self.open.append(text)

    def handle_endtag(self, tag):
        if tag not in {"line", "rect", "circle", "polyline", "meta", "br"} and self.open:
            self.open.pop()

    def handle_data(self, data):
        for text in self.open:
            text.append(data)

    def all(self, tag: str, cls: str | None = None) -> list[tuple[dict, str]]:
        return [
            (attrs, "".join(text))
            for t, attrs, text in self.found
            if t == tag and (cls is None or cls in attrs.get("class", "").split())
        ]


def a_week() -> Stats:
    gap = Gap(
        "When is the zebra parade?", 2, ("When is the zebra parade?",), "2026-11-22T10:00", 2, 0
    )
    return Stats(
        days=[("2026-11-19", 4, 2), ("2026-11-22", 2, 1), ("2026-11-25", 1, 1)],
        asked=7,
        answered=4,
        helpful=1,
        top_sources=[("seed-story", 4)],
        gaps=[gap],
        origins={"discord": 5, "cli": 2},
    )


def test_every_day_of_the_period_is_a_slot():
    slots, per = chart_slots(a_week().days, date(2026, 11, 18), date(2026, 11, 25))
    assert per == "day"
    assert [day for day, _, _ in slots] == [f"2026-11-{d}" for d in range(18, 26)]
    assert [asked for _, asked, _ in slots] == [0, 4, 0, 0, 2, 0, 0, 1]
    # A recorded day outside the period is never dropped.
    slots, _ = chart_slots([("2026-11-10", 1, 0)], date(2026, 11, 18), date(2026, 11, 20))
    assert slots[0] == ("2026-11-10", 1, 0) and len(slots) == 11


def test_a_long_period_is_charted_per_week_with_the_same_totals():
    days = [((date(2026, 1, 1) + timedelta(days=n)).isoformat(), n % 3, n % 2) for n in range(365)]
    slots, per = chart_slots(days, date(2026, 1, 1), date(2026, 12, 31))
    assert per == "week" and len(slots) == 53
    assert sum(a for _, a, _ in slots) == sum(a for _, a, _ in days)
    assert sum(n for _, _, n in slots) == sum(n for _, _, n in days)


def test_count_ticks_are_round_and_cover_the_peak():
    assert count_ticks(0) == [0, 1]
    assert count_ticks(7) == [0, 2, 4, 6, 8]
    assert count_ticks(9) == [0, 2, 4, 6, 8, 10]
    assert count_ticks(1234)[-1] >= 1234 and len(count_ticks(1234)) <= 6


def numbers(value: str) -> float:
    return float(value)


def test_chart_axes_are_even_and_scaled():
    slots, _ = chart_slots(a_week().days, date(2026, 11, 18), date(2026, 11, 25))
    svg = Elements(chart_svg(slots))
    bars = svg.all("rect", "bar")
    assert [int(attrs["data-asked"]) for attrs, _ in bars] == [0, 4, 0, 0, 2, 0, 0, 1]
    xs = [numbers(attrs["x"]) for attrs, _ in bars]
    gaps = {round(b - a, 2) for a, b in itertools.pairwise(xs)}
    assert len(gaps) == 1  # one step per day, zero days included
    bottoms = {round(numbers(a["y"]) + numbers(a["height"]), 1) for a, _ in bars}
    assert len(bottoms) == 1
    base = bottoms.pop()
    heights = [numbers(a["height"]) for a, _ in bars]
    assert heights[1] == pytest.approx(2 * heights[4]) == pytest.approx(4 * heights[7])
    # Left axis: round counts up to at least the peak; the top tick is the top of the plot.
    counts = svg.all("text", "count-tick")
    assert [int(text) for _, text in counts] == [0, 1, 2, 3, 4]
    # Right axis: the answer rate, 0 to 100 %, the 100 % tick level with the top count tick.
    rates = svg.all("text", "rate-tick")
    assert [text for _, text in rates] == [f"{t}%" for t in RATE_TICKS]
    rate_y = {text: numbers(a["y"]) for a, text in rates}
    count_y = {text: numbers(a["y"]) for a, text in counts}
    assert rate_y["100%"] == count_y["4"] and rate_y["0%"] == count_y["0"]
    # Rate points only where questions were asked, at their rate on the right axis.
    points = svg.all("circle", "rate")
    assert len(points) == 3
    top, bottom = rate_y["100%"] - 4, rate_y["0%"] - 4  # labels sit 4 px below their tick
    for (attrs, _), rate in zip(points, (0.5, 0.5, 1.0), strict=True):
        assert numbers(attrs["cy"]) == pytest.approx(bottom - (bottom - top) * rate, abs=0.1)
    assert bottom == pytest.approx(base, abs=0.1)
    # Days without questions break the line instead of dropping it to 0 %.
    assert svg.all("polyline", "rate-line") == []


def test_report_sections_generation_date_and_now_answered():
    newer = source(
        "zebra-parade-date", "Saturday.", title="Zebra parade date", added_at="2026-11-24"
    )
    stats = a_week()
    page = render_html(stats, {"seed-story": "The story"}, 7, [(stats.gaps[0], newer)], GENERATED)
    html = Elements(page)
    assert not html.all("script") and not html.all("link")
    ((time_attrs, time_text),) = html.all("time")
    assert time_attrs["datetime"] == "2026-11-25T14:50:00+00:00"
    assert time_text == "2026-11-25 14:50 UTC"
    period = next(text for attrs, text in html.all("p") if attrs.get("id") == "period")
    assert "Last 7 days: 2026-11-18 to 2026-11-25" in " ".join(period.split())
    headings = [text for _, text in html.all("h2")]
    assert "Now answered by a newer source" in headings
    fixed = next(text for attrs, text in html.all("table") if attrs.get("id") == "now-answered")
    assert "When is the zebra parade?" in fixed and "Zebra parade date" in fixed
    assert "zebra-parade-date" in fixed
    asked = next(text for attrs, text in html.all("span") if attrs.get("id") == "asked")
    assert asked == "7 questions (5 from discord, 2 from cli)"
    assert len(html.all("rect", "bar")) == 2 * 8  # the wide chart and the phone's
    cells = [attrs.get("data-label") for attrs, _ in html.all("td")]
    assert None not in cells and "times asked" in cells  # each cell names its column


def test_empty_report_says_so_in_words():
    page = render_html(Stats(), {}, 30, (), GENERATED)
    html = Elements(page)
    assert html.all("table") == [] and html.all("svg") == []
    empty = [text for _, text in html.all("p", "empty")]
    assert empty == [
        NO_QUESTIONS,
        NOTHING_ASKED,
        NOTHING_ASKED,
        "No source was quoted in this period.",
    ]
    answered = Stats(days=[("2026-11-25", 1, 1)], asked=1, answered=1)
    empty = [text for _, text in Elements(render_html(answered, {}, 7)).all("p", "empty")]
    assert NO_GAPS in empty and NO_FIXED in empty


# -- in a real browser -----------------------------------------------------------------------------

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)

# Appended to a copy of the report (the report itself has no scripts): measures the layout the
# browser computed and writes it into the page, which --dump-dom prints.
MEASURE = """
<script>
const box = (e) => { const r = e.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
          height: r.height}; };
const svg = [...document.querySelectorAll("svg")].find(
  (e) => e.getBoundingClientRect().width > 0);
// Chart elements of the chart shown (the page has a wide one and a phone one).
const all = (selector) => [...svg.querySelectorAll(selector)].map(box);
const page = (selector) => [...document.querySelectorAll(selector)].map(box);
const out = {
  page: document.documentElement.clientWidth,
  svg: box(svg),
  bars: [...svg.querySelectorAll("rect.bar")].map(
    (e) => Object.assign(box(e), {asked: Number(e.dataset.asked)})),
  countTicks: all("text.count-tick"), rateTicks: all("text.rate-tick"),
  days: all("text.day"), points: all("circle.rate"),
  legend: [...svg.querySelectorAll(":scope > text:not([class])")].map(box),
  tables: [...document.querySelectorAll("table")].map((t) => [t.id, box(t).height]),
  tableBoxes: page("table"), cells: page("td"),
  scrollWidth: document.documentElement.scrollWidth,
  texts: [...svg.querySelectorAll("text")].map((e) => Object.assign(box(e),
    {size: parseFloat(getComputedStyle(e).fontSize) * box(svg).width / svg.viewBox.baseVal.width})),
};
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify(out);
// In a phone-width frame (see measure()), the result goes to the page --dump-dom prints.
(window.frameElement ? parent.document : document).body.appendChild(pre);
</script>
"""


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


# Headless Chromium's window is at least this wide; a phone is emulated with a frame.
MIN_WINDOW = 500


def measure(tmp_path: Path, page: str, width: int) -> dict:
    """The layout of ``page`` in a viewport ``width`` pixels wide."""
    measured = tmp_path / f"measured-{width}.html"
    inner = page.replace("</body>", MEASURE + "</body>")
    if width < MIN_WINDOW:  # a same-origin frame of the phone's width is the viewport
        inner = (
            '<!DOCTYPE html><html><body style="margin:0">'
            f'<iframe width="{width}" height="1200" style="border:0" '
            f'srcdoc="{html_escape(inner, quote=True)}"></iframe></body></html>'
        )
    measured.write_text(inner, encoding="utf-8")
    window = max(width, MIN_WINDOW)
    result = run_chromium(f"--window-size={window},1200", "--dump-dom", measured.as_uri())
    found = re.search(r'<pre id="measured">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def report_with_gaps() -> str:
    days = [("2026-11-12", 7, 3), ("2026-11-13", 5, 3), ("2026-11-15", 9, 5), ("2026-11-25", 4, 4)]
    long_question = "Why did the streaming service not remove the film after the petition? " * 2
    gap = Gap(long_question, 3, (long_question, "why was cuties not removed"), "2026-11-22T10:00",
              3, 1)  # fmt: skip
    stats = Stats(days=days, asked=25, answered=15, top_sources=[("seed-story", 15)], gaps=[gap])
    newer = source("netflix-responds-to-the-cuties-petition-" + "x" * 20, "Text.",
                   title="Netflix responds", added_at="2026-11-24")  # fmt: skip
    return render_html(stats, {"seed-story": "The story"}, 14, [(gap, newer)], GENERATED)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (e.g. apt-get install chromium)")
@pytest.mark.parametrize("width", [420, 375])
def test_the_report_on_a_phone_stays_inside_the_screen_and_readable(tmp_path: Path, width):
    """Before: at 420 px the gaps table ran off the right edge and the chart's labels were
    scaled down to about 5 px."""
    m = measure(tmp_path, report_with_gaps(), width)
    assert m["page"] == width
    assert m["scrollWidth"] <= m["page"]  # nothing runs off the right edge
    for table in m["tableBoxes"] + m["cells"]:
        assert table["right"] <= m["page"] + 0.5, table
    svg = m["svg"]
    assert svg["right"] <= m["page"] and svg["width"] > 0.8 * m["page"] - 40
    sizes = [t["size"] for t in m["texts"]]
    assert min(sizes) >= 9.5, sizes  # the labels keep about their size (10-12 px)
    for label in m["texts"]:
        assert svg["left"] <= label["left"] and label["right"] <= svg["right"] + 0.5, label
    days_shown = [t for t in m["days"]]
    for a, b in itertools.pairwise(days_shown):
        assert a["right"] < b["left"], (a, b)
    legend = m["legend"]
    assert len(legend) == 2 and legend[0]["bottom"] <= legend[1]["top"] + 1  # two lines
    assert len(m["bars"]) == 15


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (e.g. apt-get install chromium)")
def test_the_report_as_a_browser_lays_it_out(tmp_path: Path):
    days = [("2026-11-12", 7, 3), ("2026-11-13", 5, 3), ("2026-11-15", 9, 5), ("2026-11-25", 4, 4)]
    stats = Stats(days=days, asked=25, answered=15, top_sources=[("seed-story", 15)])
    page = render_html(stats, {"seed-story": "The story"}, 14, (), GENERATED)
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    m = measure(tmp_path, page, 1000)

    svg = m["svg"]
    assert svg["width"] > 600 and svg["height"] > 200 and svg["right"] <= m["page"]
    bars = m["bars"]
    assert len(bars) == 15  # 2026-11-11 to 2026-11-25: every day, zero days included
    centres = [(b["left"] + b["right"]) / 2 for b in bars]
    steps = [b - a for a, b in itertools.pairwise(centres)]
    assert max(steps) - min(steps) < 0.5  # an even time axis, as drawn
    tallest = max(bars, key=lambda b: b["asked"])
    for bar in bars:
        assert bar["bottom"] == pytest.approx(tallest["bottom"], abs=0.5)
        assert bar["height"] == pytest.approx(tallest["height"] * bar["asked"] / 9, abs=0.5)
    # Both axes' labels are inside the picture (not clipped), and day labels do not collide.
    for label in m["countTicks"] + m["rateTicks"] + m["legend"] + m["days"]:
        assert svg["left"] <= label["left"] and label["right"] <= svg["right"] + 0.5, label
    assert len(m["rateTicks"]) == 5 and len(m["points"]) == 4
    rate_tops = [t["top"] for t in m["rateTicks"]]
    assert rate_tops == sorted(rate_tops, reverse=True)  # 0 % at the bottom, 100 % at the top
    days_shown = m["days"]
    for a, b in itertools.pairwise(days_shown):
        assert a["right"] < b["left"], (a, b)
    left, right = m["legend"]
    assert left["right"] < right["left"]
    assert [table_id for table_id, height in m["tables"] if height > 0] == ["sources"]

    # And a picture to look at: tmp_path/report.png.
    shot = tmp_path / "report.png"
    result = run_chromium("--window-size=1000,1200", f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000, result.stderr[-2000:]
