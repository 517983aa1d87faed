"""Small SVG charts for the docs, drawn by the scripts that measure what they show.

Every chart carries its scale as data attributes on the <svg> and its points or bars as data
attributes on their elements, so tests/test_docs.py reads a drawn position back into the value
it stands for and compares it with the chart's data file.
"""

from __future__ import annotations

import math
import os
import platform
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from importlib import metadata
from xml.etree import ElementTree

SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
TEXT_COLOUR = "#888888"  # readable on the light and the dark theme
COLOURS = ("#4a7bd0", "#d0843a", "#3a9d5d", "#b04ab0")
PACKAGES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "celery")


def stamp(what: str, when: datetime | None = None, by: str | None = None) -> str:
    """ "<what> <date> [by <by>] on N CPUs (system), Python x; versions.", like the benchmark's."""
    moment = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    if by is not None:
        moment += f" by {by}"
    versions = ", ".join(
        f"{name} {version}" for name in PACKAGES if (version := installed(name)) is not None
    )
    return (
        f"{what} {moment} on {os.cpu_count()} CPUs ({platform.system()} {platform.machine()}), "
        f"Python {platform.python_version()}; {versions}."
    )


def installed(name: str) -> str | None:
    """The installed version of a package, or None where it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` ticks over `span`."""
    raw = max(span, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]  # (x, y) in the chart's units


@dataclass(frozen=True)
class Panel:
    """One line chart: its title, its axes' labels and formats, and its series."""

    title: str
    y_label: str
    series: Sequence[Series]
    y_format: Callable[[float], str] = lambda value: f"{value:g}"


PANEL_WIDTH = 420
PANEL_HEIGHT = 260
PANEL_LEFT = 64  # room for the y tick labels
PANEL_TOP = 64  # title, legend and the y label
PANEL_BOTTOM = 40  # x tick labels and the x label
STAMP_CHARACTER_PX = 7  # a generous width of one 12 px sans-serif character, to wrap the stamp


def line_panels_svg(
    panels: Sequence[Panel],
    x_label: str,
    x_format: Callable[[float], str],
    stamp_text: str,
    aria_label: str,
    panel_width: int = PANEL_WIDTH,
) -> str:
    """Line charts side by side, then the stamp under them (wrapped to the chart's width)."""
    width = panel_width * len(panels)
    stamp_lines = textwrap.wrap(stamp_text, width // STAMP_CHARACTER_PX)
    height = PANEL_HEIGHT + 8 + 15 * len(stamp_lines)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13" role="img" '
        f'aria-label="{escape(aria_label)}">'
    ]
    for number, panel in enumerate(panels):
        parts.append(_panel(panel, number * panel_width, panel_width, x_label, x_format))
    for number, line in enumerate(stamp_lines):
        y = PANEL_HEIGHT + 20 + 15 * number
        parts.append(
            f'<text x="0" y="{y}" fill="{TEXT_COLOUR}" font-size="12">{escape(line)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(
    panel: Panel, offset: int, panel_width: int, x_label: str, x_format: Callable[[float], str]
) -> str:
    xs = [x for series in panel.series for x, _ in series.points]
    ys = [y for series in panel.series for _, y in series.points]
    x_step = nice_step(max(xs))
    x_end = math.ceil(max(xs) / x_step) * x_step
    y_step = nice_step(max(ys) * 1.1)
    y_end = math.ceil(max(ys) * 1.1 / y_step) * y_step
    left = offset + PANEL_LEFT
    plot_width = panel_width - PANEL_LEFT - 20
    plot_height = PANEL_HEIGHT - PANEL_TOP - PANEL_BOTTOM
    bottom = PANEL_TOP + plot_height
    x_scale, y_scale = plot_width / x_end, plot_height / y_end

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * x_scale, bottom - y * y_scale

    parts = [
        f'<g data-panel="{escape(panel.title)}" data-x0="{left}" data-x-scale="{x_scale:.8f}" '
        f'data-y0="{bottom}" data-y-scale="{y_scale:.8f}">',
        f'<text x="{left - PANEL_LEFT + 4}" y="16" fill="{TEXT_COLOUR}" font-weight="bold">'
        f"{escape(panel.title)}</text>",
    ]
    for index, series in enumerate(panel.series):
        legend_x = left - PANEL_LEFT + 4 + index * 130
        parts.append(
            f'<rect x="{legend_x}" y="26" width="14" height="4" fill="{COLOURS[index]}"/>'
            f'<text x="{legend_x + 18}" y="32" fill="{TEXT_COLOUR}" font-size="12">'
            f"{escape(series.name)}</text>"
        )
    for tick in range(round(y_end / y_step) + 1):
        _, y = at(0, tick * y_step)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_width}" y2="{y:.1f}" '
            f'stroke="{TEXT_COLOUR}" stroke-opacity="0.3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" fill="{TEXT_COLOUR}" font-size="12" '
            f'text-anchor="end">{escape(panel.y_format(tick * y_step))}</text>'
        )
    for tick in range(round(x_end / x_step) + 1):
        x, _ = at(tick * x_step, 0)
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
            f'stroke="{TEXT_COLOUR}"/>'
            f'<text x="{x:.1f}" y="{bottom + 18}" fill="{TEXT_COLOUR}" font-size="12" '
            f'text-anchor="middle">{escape(x_format(tick * x_step))}</text>'
        )
    parts.append(
        f'<text x="{left + plot_width / 2:.1f}" y="{bottom + 34}" fill="{TEXT_COLOUR}" '
        f'font-size="12" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="{left - PANEL_LEFT + 4}" y="{PANEL_TOP - 12}" fill="{TEXT_COLOUR}" '
        f'font-size="12">{escape(panel.y_label)}</text>'
    )
    for index, series in enumerate(panel.series):
        drawn = [at(x, y) for x, y in series.points]
        path = " ".join(f"{x:.2f},{y:.2f}" for x, y in drawn)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{COLOURS[index]}" stroke-width="2"/>'
        )
        for (x, y), (value_x, value_y) in zip(drawn, series.points, strict=True):
            parts.append(
                f'<circle data-series="{escape(series.name)}" data-x="{value_x:g}" '
                f'data-y="{value_y:g}" cx="{x:.2f}" cy="{y:.2f}" r="3" fill="{COLOURS[index]}">'
                f"<title>{escape(series.name)}: {value_y:g} at {value_x:g}</title></circle>"
            )
    parts.append("</g>")
    return "\n".join(parts)


def read_points(svg_text: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(panel, series) -> the points as drawn, converted back through the panel's scale."""
    root = ElementTree.fromstring(svg_text)
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for group in root.iter(f"{SVG_NAMESPACE}g"):
        x0, x_scale = float(group.attrib["data-x0"]), float(group.attrib["data-x-scale"])
        y0, y_scale = float(group.attrib["data-y0"]), float(group.attrib["data-y-scale"])
        for circle in group.iter(f"{SVG_NAMESPACE}circle"):
            key = (group.attrib["data-panel"], circle.attrib["data-series"])
            x = (float(circle.attrib["cx"]) - x0) / x_scale
            y = (y0 - float(circle.attrib["cy"])) / y_scale
            points.setdefault(key, []).append((x, y))
    return points
