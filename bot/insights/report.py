"""Stats -> a one-page HTML report that opens offline (inline SVG chart, no scripts, no CDN).

The page a moderator shares: the figures and when they were generated; a chart with one bar per
day of the period (days without questions are zero, so the time axis is even; periods over
``DAILY_BARS_LIMIT`` days are charted per week) and the answer rate as a line on its own
0-100 % axis; the gaps; the gaps a newer source now answers; the most quoted sources. An empty
section says so in words rather than showing bare table headers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from html import escape

from bot.insights.questionlog import Gap, Stats
from bot.presentation import percent, source_title
from bot.sources.corpus import Source

CHART_W, CHART_H = 760, 280
# Plot area margins: left axis labels, right axis labels, legend above, day labels below.
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 34, 40
# The chart drawn for a phone (shown below PHONE_EM wide instead): about as wide as the screen,
# so its labels keep their size; the legend on two lines, fewer day labels.
PHONE_W, PHONE_H, PHONE_TOP, PHONE_LABELS = 340, 260, 48, 5
PHONE_EM = 40
DAILY_BARS_LIMIT = 92
RATE_TICKS = (0, 25, 50, 75, 100)
BAR_COLOUR, RATE_COLOUR, GRID_COLOUR = "#5b8def", "#c0392b", "#e3e3e3"

NO_QUESTIONS = "No questions were asked in this period."
NO_GAPS = "No gaps: every question asked in this period found an answer nobody marked unhelpful."
NO_FIXED = (
    "No gap is answered by a newer source yet: add a source that covers a gap above, "
    "and it shows here."
)
NO_SOURCES = "No source was quoted in this period."
NOTHING_ASKED = "Nothing asked in this period, so nothing to show here yet."


def chart_slots(
    days: Sequence[tuple[str, int, int]], start: date, end: date
) -> tuple[list[tuple[str, int, int]], str]:
    """(first day, asked, answered) for every day from ``start`` to ``end``, zeros included,
    and "day"; or per week, and "week", when that is more than DAILY_BARS_LIMIT days."""
    counts = {day: (asked, answered) for day, asked, answered in days}
    if counts:  # never drop a recorded day, whatever the caller's period
        start = min(start, date.fromisoformat(min(counts)))
        end = max(end, date.fromisoformat(max(counts)))
    total = (end - start).days + 1
    width = 1 if total <= DAILY_BARS_LIMIT else 7
    slots = []
    for first in range(0, total, width):
        asked = answered = 0
        for offset in range(first, min(first + width, total)):
            a, n = counts.get((start + timedelta(days=offset)).isoformat(), (0, 0))
            asked, answered = asked + a, answered + n
        slots.append(((start + timedelta(days=first)).isoformat(), asked, answered))
    return slots, "day" if width == 1 else "week"


def count_ticks(peak: int) -> list[int]:
    """Round tick values from 0 to at least ``peak`` (at most 6 ticks): 0, 2, 4, ..."""
    peak = max(peak, 1)
    for step in (m * 10**e for e in range(0, 12) for m in (1, 2, 5)):
        if math.ceil(peak / step) <= 5:
            return [step * i for i in range(math.ceil(peak / step) + 1)]
    return [0, peak]


def chart_svg(slots: Sequence[tuple[str, int, int]], per: str = "day", phone: bool = False) -> str:
    """Bars: questions per slot (left axis); line: share answered (right axis, 0-100 %).
    A slot without questions has no rate: the line breaks there instead of dropping to 0.
    ``phone``: the narrow version (PHONE_W), legend on two lines, fewer day labels."""
    ticks = count_ticks(max((asked for _, asked, _ in slots), default=0))
    top = ticks[-1]
    chart_w, chart_h, top_margin = (
        (PHONE_W, PHONE_H, PHONE_TOP) if phone else (CHART_W, CHART_H, TOP)
    )
    plot_w, plot_h = chart_w - LEFT - RIGHT, chart_h - top_margin - BOTTOM
    base = top_margin + plot_h
    step = plot_w / max(1, len(slots))

    def y_count(value: float) -> float:
        return base - plot_h * value / top

    def y_rate(share: float) -> float:
        return base - plot_h * share

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart_w}" height="{chart_h}" '
        f'viewBox="0 0 {chart_w} {chart_h}" role="img" font-family="system-ui, sans-serif" '
        f'aria-label="Questions per {per} (bars, left axis) and share answered '
        '(line, right axis)">'
    ]
    for value in ticks:  # left axis: questions, with grid lines
        y = y_count(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}"/>'
            f'<text class="count-tick" x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end">{value}</text>'
        )
    for value in RATE_TICKS:  # right axis: share answered
        y = y_rate(value / 100)
        parts.append(
            f'<line x1="{LEFT + plot_w}" y1="{y:.1f}" x2="{LEFT + plot_w + 4}" y2="{y:.1f}" '
            f'stroke="{RATE_COLOUR}"/>'
            f'<text class="rate-tick" x="{LEFT + plot_w + 7}" y="{y + 4:.1f}" font-size="11" '
            f'fill="{RATE_COLOUR}">{value}%</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{top_margin}" x2="{LEFT}" y2="{base}" stroke="#888"/>'
        f'<line x1="{LEFT + plot_w}" y1="{top_margin}" x2="{LEFT + plot_w}" y2="{base}" '
        f'stroke="{RATE_COLOUR}"/>'
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="#888"/>'
        f'<text x="{LEFT}" y="14" font-size="12" fill="{BAR_COLOUR}">'
        f"■ questions per {per} (left axis)</text>"
    )
    if phone:  # the second legend line under the first, at the right axis's side
        parts.append(
            f'<text x="{LEFT + plot_w}" y="30" font-size="12" fill="{RATE_COLOUR}" '
            'text-anchor="end">● share answered (right axis)</text>'
        )
    else:
        parts.append(
            f'<text x="{LEFT + plot_w}" y="14" font-size="12" fill="{RATE_COLOUR}" '
            'text-anchor="end">● share answered (right axis)</text>'
        )
    label_every = max(1, math.ceil(len(slots) / (PHONE_LABELS if phone else 10)))
    segments: list[list[str]] = [[]]
    for i, (day, asked, answered) in enumerate(slots):
        x = LEFT + i * step
        middle = x + step / 2
        height = plot_h * asked / top
        what = f"{escape(day)}{' (week)' if per == 'week' else ''}: {asked} asked, "
        what += f"{answered} answered" if asked else "no questions"
        parts.append(
            f'<rect class="bar" data-day="{escape(day)}" data-asked="{asked}" '
            f'x="{x + step * 0.15:.2f}" y="{base - height:.2f}" width="{step * 0.7:.2f}" '
            f'height="{height:.2f}" fill="{BAR_COLOUR}"><title>{what}</title></rect>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="day" x="{middle:.1f}" y="{base + 16}" font-size="10" '
                f'text-anchor="middle">{escape(day[5:])}</text>'
            )
        if asked:
            point = f"{middle:.1f},{y_rate(answered / asked):.1f}"
            segments[-1].append(point)
            parts.append(
                f'<circle class="rate" cx="{middle:.1f}" cy="{y_rate(answered / asked):.1f}" '
                f'r="2.5" fill="{RATE_COLOUR}"><title>{escape(day)}: '
                f"{answered / asked:.0%} answered</title></circle>"
            )
        elif segments[-1]:
            segments.append([])
    for points in segments:
        if len(points) > 1:
            parts.append(
                f'<polyline class="rate-line" points="{" ".join(points)}" fill="none" '
                f'stroke="{RATE_COLOUR}" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _table(
    table_id: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    empty: str,
    numeric: Sequence[int] = (),
) -> str:
    """A table, or ``empty`` in words when there are no rows. The ``numeric`` columns are
    right-aligned (``class=n``). Every cell carries its header (``data-label``): on a phone
    each row is shown as a block of "header: value" lines instead of columns."""
    if not rows:
        return f'<p class="empty" id="{table_id}-empty">{escape(empty)}</p>'
    head = "".join(
        f"<th{' class=n' if i in numeric else ''}>{escape(h)}</th>" for i, h in enumerate(headers)
    )
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td{" class=n" if i in numeric else ""} data-label="{escape(headers[i])}">'
            f"{escape(str(cell))}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n'
        "</table>"
    )


def render_html(
    stats: Stats,
    titles: dict[str, str],
    period_days: int,
    fixed: Sequence[tuple[Gap, Source]] = (),
    generated: datetime | None = None,
    story: str = "",
) -> str:
    """The report page; ``titles`` maps source ids to titles (removed sources show their id),
    ``fixed`` are the gaps newer sources now answer, ``generated`` is when the figures were
    taken (the period ends then; default now), ``story`` names the story when a deployment
    has several."""
    of_story = f" (story {story})" if story else ""
    generated = (generated or datetime.now(UTC)).astimezone(UTC)
    end = generated.date()
    start = (generated - timedelta(days=period_days)).date()
    slots, per = chart_slots(stats.days, start, end)
    if stats.asked:
        chart = (
            f'<div class="chart wide">{chart_svg(slots, per)}</div>\n'
            f'<div class="chart phone">{chart_svg(slots, per, phone=True)}</div>'
        )
    else:
        chart = f'<p class="empty">{NO_QUESTIONS}</p>'
    gap_headers = (
        "question",
        "times asked",
        "unanswered",
        "of them nothing",
        "not helpful",
        "last asked (UTC)",
    )
    gap_rows = [
        (
            g.question,
            g.count,
            g.unanswered,
            g.nothing,
            g.not_helpful,
            g.last_asked[:16].replace("T", " "),
            " / ".join(v for v in g.variants if v != g.question),
        )
        for g in stats.gaps
    ]
    fixed_rows = [
        (g.question, source.title, source.id, source.added_at[:10]) for g, source in fixed
    ]
    source_rows = [(source_title(titles, sid), sid, n) for sid, n in stats.top_sources]
    nothing = NOTHING_ASKED if not stats.asked else None
    gaps = _table(
        "gaps", (*gap_headers, "also asked as"), gap_rows, nothing or NO_GAPS, (1, 2, 3, 4)
    )
    now_answered = _table(
        "now-answered",
        ("question", "answered by", "source id", "added"),
        fixed_rows,
        nothing or NO_FIXED,
    )
    sources = _table(
        "sources", ("source", "id", "times quoted"), source_rows, NO_SOURCES, numeric=(2,)
    )
    origins = ", ".join(f"{n} from {escape(o)}" for o, n in stats.origins.items())
    votes = stats.helpful + stats.not_helpful
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>storybot report{escape(of_story)}, {start.isoformat()} to {end.isoformat()}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em;
       color: #222; line-height: 1.4; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4em; text-align: left; vertical-align: top; }}
th.n, td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.figures span {{ display: inline-block; margin-right: 2em; font-size: 1.2em; }}
.empty {{ color: #555; font-style: italic; }}
.meta {{ color: #555; }}
svg {{ max-width: 100%; height: auto; }}
td {{ overflow-wrap: anywhere; }}
.chart.phone {{ display: none; }}
/* A phone: the narrow chart (its labels keep their size), and each table row as a block of
   "header: value" lines, so nothing runs off the right edge. */
@media (max-width: {PHONE_EM}em) {{
  body {{ margin: 1em auto; }}
  .chart.wide {{ display: none; }}
  .chart.phone {{ display: block; }}
  .figures span {{ display: block; margin: 0 0 .3em; }}
  table, thead, tbody, tr, th, td {{ display: block; width: auto; }}
  thead {{ position: absolute; left: -10000px; }}
  tr {{ border-bottom: 1px solid #ddd; padding: .4em 0; }}
  td {{ border: none; padding: .1em 0; }}
  th.n, td.n {{ text-align: left; }}
  td::before {{ content: attr(data-label) ": "; color: #555; }}
}}
</style>
</head>
<body>
<h1>storybot: what the community asked{escape(of_story)}</h1>
<p class="meta" id="period">Last {period_days} days: {start.isoformat()} to {end.isoformat()}.
Generated <time id="generated" datetime="{generated.isoformat(timespec="seconds")}">\
{generated:%Y-%m-%d %H:%M} UTC</time>.</p>
<p class="figures">
<span id="asked">{stats.asked} questions{f" ({origins})" if origins else ""}</span>
<span id="answer-rate">{percent(stats.answer_rate)} answered</span>
<span id="helpful-rate">{percent(stats.helpful_rate)} helpful ({votes} votes)</span>
</p>
<h2>Questions per {per} and share answered</h2>
{chart}
<h2>Gaps: unanswered or "Not helpful" questions</h2>
<p>Near-duplicate questions are grouped; a new source that answers them fills the gap.</p>
{gaps}
<h2>Now answered by a newer source</h2>
<p>Gaps above that the corpus answers today, from a source added after they were last asked.</p>
{now_answered}
<h2>Most quoted sources</h2>
{sources}
</body>
</html>
"""
