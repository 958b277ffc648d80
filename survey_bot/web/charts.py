"""Draw the dashboard's charts as accessible inline SVG on the server: pure functions, strings in and out.

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that states every number, and text
labels beside every bar, so it reads without colour, without JavaScript and through a screen reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["Bar", "FunnelBar", "Share", "bar_chart", "funnel_chart", "share_chart"]

WIDTH = 960
LABEL_W = 220
BAR_H = 22
ROW_H = 34
TOP = 8
# Colours with at least 4.5:1 contrast against white for the text drawn in them.
AI = "#1f5fa8"
KEYPAD = "#b35900"
NONE = "#6b6b6b"
BREAKOFF = "#b00020"
DECLINED_COLOUR = "#7a4fa0"


@dataclass(frozen=True)
class Bar:
    """One labelled bar."""

    label: str
    value: int
    colour: str = AI
    note: str = ""


@dataclass(frozen=True)
class Share:
    """One labelled fraction (0..1), or None when it is undefined (nothing to divide yet)."""

    label: str
    value: float | None
    colour: str = AI


@dataclass(frozen=True)
class FunnelBar:
    """One funnel row: a field and how the calls that reached it fared."""

    label: str
    reached: int
    by_ai: int
    by_keypad: int
    breakoffs: int
    declined: int = 0
    not_applicable: int = 0

    @property
    def unanswered(self) -> int:
        """Calls that reached the field without a final answer or a refusal."""
        return max(self.reached - self.by_ai - self.by_keypad - self.declined, 0)


def _svg(chart_id: str, title: str, desc: str, height: int, body: str) -> Markup:
    t, d = f"{chart_id}-title", f"{chart_id}-desc"
    return Markup(  # noqa: S704 - every interpolated text below goes through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(t)} {escape(d)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{escape(t)}">{escape(title)}</title><desc id="{escape(d)}">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _label(y: int, text: str) -> str:
    shown = text if len(text) <= 30 else text[:29] + "…"
    return (f'<text x="{LABEL_W - 8}" y="{y + BAR_H / 2 + 5:g}" text-anchor="end" class="chart-label">'
            f"<title>{escape(text)}</title>{escape(shown)}</text>")


def _rect(x: float, y: int, width: float, colour: str, tip: str) -> str:
    if width <= 0:
        return ""
    return (f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR_H}" fill="{colour}">'
            f"<title>{escape(tip)}</title></rect>")


def _plot_width() -> int:
    return WIDTH - LABEL_W - 270  # room on the right for the value text


def _row(y: int, label: str, width: float, colour: str, text: str) -> str:
    """One labelled bar on its track, its value text on the right."""
    plot = _plot_width()
    return (_label(y, label) + f'<rect x="{LABEL_W}" y="{y}" width="{plot}" height="{BAR_H}" class="chart-track"/>'
            + _rect(LABEL_W, y, width, colour, f"{label}: {text}")
            + f'<text x="{LABEL_W + plot + 8}" y="{y + BAR_H / 2 + 5:g}" class="chart-value">{escape(text)}</text>')


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], *, total: int | None = None) -> Markup:
    """Horizontal bars, one per item, each labelled with its count (and its share of `total`)."""
    scale_max = max([b.value for b in bars] + [total or 0, 1])
    plot = _plot_width()
    parts: list[str] = []
    facts: list[str] = []
    for i, bar in enumerate(bars):
        y = TOP + i * ROW_H
        width = plot * bar.value / scale_max
        share = f" ({bar.value / total:.0%})" if total else ""
        text = f"{bar.value}{share}{(' ' + bar.note) if bar.note else ''}"
        facts.append(f"{bar.label}: {text}")
        parts.append(_row(y, bar.label, width, bar.colour, text))
    height = TOP * 2 + max(len(bars), 1) * ROW_H
    desc = "; ".join(facts) if facts else "No data."
    return _svg(chart_id, title, desc, height, "".join(parts))


def share_chart(chart_id: str, title: str, shares: Sequence[Share]) -> Markup:
    """Horizontal bars on a 0-100 % scale, each labelled with its percentage ("—" when undefined)."""
    plot = _plot_width()
    parts: list[str] = []
    facts: list[str] = []
    for i, share in enumerate(shares):
        y = TOP + i * ROW_H
        text = "— (nothing to divide yet)" if share.value is None else f"{share.value:.1%}"
        facts.append(f"{share.label}: {text}")
        parts.append(_row(y, share.label, plot * min(max(share.value or 0.0, 0.0), 1.0), share.colour, text))
    height = TOP * 2 + max(len(shares), 1) * ROW_H
    return _svg(chart_id, title, "; ".join(facts) if facts else "No data.", height, "".join(parts))


def funnel_chart(chart_id: str, title: str, rows: Sequence[FunnelBar], *, base: int) -> Markup:
    """One stacked bar per field in form order: answered by AI, by keypad, unanswered; breakoffs noted.

    Bar lengths are relative to `base` (the connected calls), so the funnel narrows where callers leave.
    """
    plot = _plot_width()
    scale = plot / max(base, 1)
    parts: list[str] = []
    facts: list[str] = []
    legend_y = TOP
    legend = ((LABEL_W, AI, "answered by AI"), (LABEL_W + 140, KEYPAD, "answered on keypad"),
              (LABEL_W + 300, DECLINED_COLOUR, "declined"), (LABEL_W + 395, NONE, "unanswered"),
              (LABEL_W + 510, BREAKOFF, "unanswered, hung up here"))
    for lx, colour, name in legend:
        parts.append(f'<rect x="{lx}" y="{legend_y}" width="14" height="14" fill="{colour}"/>'
                     f'<text x="{lx + 20}" y="{legend_y + 12}" class="chart-legend">{name}</text>')
    for i, row in enumerate(rows):
        y = TOP + 28 + i * ROW_H
        parts.append(_label(y, row.label))
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{plot}" height="{BAR_H}" class="chart-track"/>')
        x = float(LABEL_W)
        for value, colour, name in ((row.by_ai, AI, "by AI"), (row.by_keypad, KEYPAD, "by keypad"),
                                    (row.declined, DECLINED_COLOUR, "declined"),
                                    (row.unanswered - row.breakoffs, NONE, "unanswered"),
                                    (row.breakoffs, BREAKOFF, "hung up here")):
            parts.append(_rect(x, y, value * scale, colour, f"{row.label}: {value} {name}"))
            x += value * scale
        text = f"{row.reached} reached · {row.by_ai} AI · {row.by_keypad} keypad"
        extra = (f" · {row.declined} declined" if row.declined else "") + \
            (f" · {row.breakoffs} hung up here" if row.breakoffs else "") + \
            (f" · {row.not_applicable} n/a" if row.not_applicable else "")
        parts.append(f'<text x="{LABEL_W + plot + 8}" y="{y + BAR_H / 2 - 2:g}" class="chart-value">'
                     f"{escape(f'{row.reached} reached')}</text>")
        emphasis = " chart-breakoff" if row.breakoffs else ""
        parts.append(f'<text x="{LABEL_W + plot + 8}" y="{y + BAR_H / 2 + 11:g}" class="chart-value small{emphasis}">'
                     f"{escape(f'{row.by_ai} AI · {row.by_keypad} keypad{extra}')}</text>")
        facts.append(f"{row.label}: {text}, {row.unanswered} unanswered{extra}")
    height = TOP * 2 + 28 + max(len(rows), 1) * ROW_H
    desc = f"Of {base} connected calls: " + ("; ".join(facts) if facts else "no fields.")
    return _svg(chart_id, title, desc, height, "".join(parts))
