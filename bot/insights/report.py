"""Stats -> a one-page HTML report that opens offline (inline SVG chart, no scripts, no CDN)."""

from __future__ import annotations

from html import escape

from bot.insights.questionlog import Stats
from bot.presentation import percent, source_title

CHART_W, CHART_H, PAD = 720, 220, 36


def chart_svg(days: list[tuple[str, int, int]]) -> str:
    """Bars: questions per day; line: answer rate (right axis, 0-100 %)."""
    if not days:
        return "<p>No questions in this period.</p>"
    peak = max(asked for _, asked, _ in days) or 1
    step = (CHART_W - 2 * PAD) / len(days)
    height = CHART_H - 2 * PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        'aria-label="Questions per day and answer rate">',
        f'<line x1="{PAD}" y1="{CHART_H - PAD}" x2="{CHART_W - PAD}" y2="{CHART_H - PAD}" '
        'stroke="#888"/>',
        f'<text x="4" y="{PAD - 8}" font-size="11">questions (max {peak})</text>',
        f'<text x="{CHART_W - PAD - 90}" y="{PAD - 8}" font-size="11" fill="#c0392b">'
        "answer rate %</text>",
    ]
    points = []
    for i, (day, asked, answered) in enumerate(days):
        x = PAD + i * step
        bar = height * asked / peak
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{CHART_H - PAD - bar:.1f}" '
            f'width="{step * 0.7:.1f}" height="{bar:.1f}" fill="#5b8def">'
            f"<title>{escape(day)}: {asked} asked, {answered} answered</title></rect>"
        )
        rate = answered / asked if asked else 0
        points.append(f"{x + step / 2:.1f},{CHART_H - PAD - height * rate:.1f}")
        if len(days) <= 14 or i % max(1, len(days) // 10) == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{CHART_H - PAD + 14}" font-size="10" '
                f'text-anchor="middle">{escape(day[5:])}</text>'
            )
    parts.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="#c0392b" stroke-width="2"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(stats: Stats, titles: dict[str, str], period_days: int) -> str:
    """The report page; ``titles`` maps source ids to titles (removed sources show their id)."""
    gap_rows = "\n".join(
        f"<tr><td>{escape(g.question)}</td><td>{g.count}</td><td>{g.unanswered}</td>"
        f"<td>{g.not_helpful}</td><td>{escape(g.last_asked[:16].replace('T', ' '))}</td>"
        f"<td>{escape(' / '.join(v for v in g.variants if v != g.question))}</td></tr>"
        for g in stats.gaps
    )
    source_rows = "\n".join(
        f"<tr><td>{escape(source_title(titles, sid))}</td><td>{escape(sid)}</td><td>{n}</td></tr>"
        for sid, n in stats.top_sources
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>storybot report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4em; text-align: left; vertical-align: top; }}
.figures span {{ display: inline-block; margin-right: 2em; font-size: 1.2em; }}
</style>
</head>
<body>
<h1>storybot: what the community asked</h1>
<p class="figures">
<span id="asked">{stats.asked} questions</span>
<span id="answer-rate">{percent(stats.answer_rate)} answered</span>
<span id="helpful-rate">{percent(stats.helpful_rate)} helpful
 ({stats.helpful + stats.not_helpful} votes)</span>
</p>
<p>Last {period_days} days.</p>
<h2>Questions per day and answer rate</h2>
{chart_svg(stats.days)}
<h2>Gaps: unanswered or "Not helpful" questions</h2>
<p>Near-duplicate questions are grouped; a new source that answers them fills the gap.</p>
<table id="gaps">
<thead><tr><th>question</th><th>times asked</th><th>unanswered</th><th>not helpful</th>
<th>last asked (UTC)</th><th>also asked as</th></tr></thead>
<tbody>
{gap_rows}
</tbody>
</table>
<h2>Most quoted sources</h2>
<table id="sources">
<thead><tr><th>source</th><th>id</th><th>times quoted</th></tr></thead>
<tbody>
{source_rows}
</tbody>
</table>
</body>
</html>
"""
