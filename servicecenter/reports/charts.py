"""Charts of the quality figures, drawn with matplotlib's object API (no pyplot state, so the
console can draw in several threads). Used by the dashboard (PNG) and the monthly PDF."""

from __future__ import annotations

import io
from typing import Any, Dict, List, Optional, Sequence, Tuple

from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from servicecenter.text import format_percent

# Text in PDFs as TrueType, so that it can be searched and extracted (pdftotext).
rcParams["pdf.fonttype"] = 42
rcParams["font.family"] = "DejaVu Sans"

CHAT_COLOUR = "#1f5f8b"
VOICE_COLOUR = "#d9822b"
BAR_COLOUR = "#3b7d3b"
TARGET_COLOUR = "#b22222"
CHARTS = ("contacts_by_day", "contacts_by_hour", "targets", "handoff_reasons", "top_services", "top_unanswered")


def _figure(width: float = 8.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def contacts_by_day(ax: Axes, figures: Dict[str, Any]) -> None:
    days = list(figures["contacts"]["by_day"].items())
    labels = [d[8:10] + "." + d[5:7] + "." for d, _ in days]
    chat = [c.get("chat", 0) for _, c in days]
    voice = [c.get("voice", 0) for _, c in days]
    positions = list(range(len(days)))
    ax.bar(positions, chat, color=CHAT_COLOUR, label="Chat")
    ax.bar(positions, voice, bottom=chat, color=VOICE_COLOUR, label="Telefon")
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_title("Kontakte je Tag")
    ax.set_ylabel("Kontakte")
    if days:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "Keine Kontakte im Zeitraum", ha="center", va="center", transform=ax.transAxes)


def contacts_by_hour(ax: Axes, figures: Dict[str, Any]) -> None:
    hours = figures["contacts"]["by_hour"]
    ax.bar(range(24), [hours.get(str(h), 0) for h in range(24)], color=CHAT_COLOUR)
    ax.set_xticks(range(24))
    ax.set_xticklabels([f"{h}" for h in range(24)], fontsize=7)
    ax.set_xlabel("Uhrzeit (Stunde, Ortszeit)")
    ax.set_ylabel("Kontakte")
    ax.set_title("Kontakte nach Uhrzeit")


def targets_chart(ax: Axes, rows: Sequence[Dict[str, Any]]) -> None:
    """Measured shares (bars) against their targets (red marks) in percent."""
    shown = [r for r in rows if r.get("share") is not None or r.get("target") is not None]
    labels = [r["short"] for r in shown]
    values = [100 * (r["value"] or 0) for r in shown]
    ax.barh(range(len(shown)), values, color=BAR_COLOUR, label="gemessen")
    for i, row in enumerate(shown):
        if row["target"] is not None:
            ax.plot([100 * row["target"]] * 2, [i - 0.4, i + 0.4], color=TARGET_COLOUR, linewidth=3,
                    label="Ziel" if i == 0 or "Ziel" not in ax.get_legend_handles_labels()[1] else None)
        text = "keine Daten" if row["value"] is None else format_percent(row["value"])
        ax.text(min(values[i] + 1, 88), i, text, va="center", fontsize=8)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_xlabel("Prozent")
    ax.set_title("Qualitätsziele: gemessen und Ziel")
    if shown:
        ax.legend(loc="lower right", fontsize=8)


def ranked_bars(ax: Axes, items: List[Tuple[str, int]], title: str, empty: str = "Keine Daten im Zeitraum") -> None:
    ax.barh(range(len(items)), [n for _, n in items], color=BAR_COLOUR)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([label[:45] for label, _ in items], fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title)
    if not items:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)


def render(fig: Figure, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    return buffer.getvalue()


def draw(ax: Axes, name: str, figures: Dict[str, Any], rows: Optional[Sequence[Dict[str, Any]]] = None,
         labels: Optional[Any] = None) -> None:
    """Draw one of CHARTS on ``ax`` (``labels``: a quality.Labels for services and reasons)."""
    if name == "contacts_by_day":
        contacts_by_day(ax, figures)
    elif name == "contacts_by_hour":
        contacts_by_hour(ax, figures)
    elif name == "targets":
        targets_chart(ax, rows or [])
    elif name == "handoff_reasons":
        items = [(labels.reason(k) if labels else k, n) for k, n in figures["handoff"]["by_reason"].items()]
        ranked_bars(ax, items, "Übergaben nach Grund")
    elif name == "top_services":
        items = [(labels.service(k) if labels else k, n) for k, n in figures["top_services"]]
        ranked_bars(ax, items, "Häufigste Anliegen")
    elif name == "top_unanswered":
        items = [(labels.unanswered(k) if labels else k, n) for k, n in figures["top_unanswered"]]
        ranked_bars(ax, items, "Häufigste unbeantwortete Fragen (nach Thema)")
    else:
        raise ValueError(f"unknown chart {name!r}")


def chart(name: str, figures: Dict[str, Any], rows: Optional[Sequence[Dict[str, Any]]] = None,
          labels: Optional[Any] = None) -> Figure:
    """One chart as its own figure (for the dashboard)."""
    fig = _figure()
    draw(fig.add_subplot(), name, figures, rows, labels)
    fig.tight_layout()
    return fig
