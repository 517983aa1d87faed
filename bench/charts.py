"""Every chart the docs show, drawn by matplotlib from a data file kept beside it.

A chart is data: one of the models below, stored as `<name>.json` next to `<name>.svg`. The
script that measures something builds the model and calls `write`, which stores both files;
`python -m bench.charts` draws every chart again from its data file, with no new measurement.
The same data always gives the same bytes (`draw`), so a test proves that a chart was drawn
from its data file by drawing it again, and checks the data file against the measurement.

Adding a chart: build a `LineChart`, `LogBarChart`, `Timeline` or `LaneChart` and `write` it
next to the page that shows it (`![...](folder/name.svg){ .chart }`); the tests find it by its
data file.

Every chart has a background of its own: an `<img>` SVG with a transparent background would sit
on the page's, and no text colour reaches 4.5:1 on both Material's white and its dark "slate"
(a grey at 4.5:1 on one is at most 3.6:1 on the other). On the chart's own white, every text
colour below is at 4.5:1 or more and every line or bar that carries a value at 3:1 or more.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FuncFormatter, LogLocator
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"

BACKGROUND = "#ffffff"
TEXT = "#24292f"  # 14.7:1 on the background
MUTED_TEXT = "#57606a"  # 6.4:1: tick labels, the stamp, reference lines
GRID = "#d8dee4"  # 1.4:1, on purpose: grid lines only guide the eye, the tick labels carry values
SERIES = ("#0969da", "#bc4c00", "#1a7f37", "#8250df")  # each 5.0:1 or more on the background

# The packages every stamp names, where they are installed.
PACKAGES = ("fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "celery")

# Charts are shown at the text column's width: 998 px at a 1280 px window. A chart 720 units
# wide (points: matplotlib's SVG unit) plus its margins shows a 9-unit label at 12.2 px; a narrow
# one (`{ .chart .narrow }`, at most 720 px) is 516 units wide and shows it at 12.1 px.
WIDE_POINTS = 720
NARROW_POINTS = 516
FONT_SIZE = 10.0
SMALL_FONT_SIZE = 9.0
POINTS_PER_INCH = 72  # matplotlib's SVG backend draws at 72 dpi: one unit is one point

# Deterministic SVG: ids hashed with a fixed salt, no date or matplotlib version in the file
# (matplotlib's backend_svg: "Values have been predefined for 'Creator', 'Date', 'Format', and
# 'Type'. They can be removed by setting them to None."). Text stays text (svg.fonttype
# "none"): files a fifth of the size of glyph outlines (12 KB against 72 KB for the stacked
# timeline), and a test can read each text's colour and size.
STYLE: dict[Any, Any] = {
    "svg.hashsalt": "bench.charts",
    "svg.fonttype": "none",
    # Measured in DejaVu Sans, which matplotlib ships (the same widths on every machine); a
    # browser without it draws the next, Verdana being about as wide.
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"],
    "font.size": FONT_SIZE,
    "text.color": TEXT,
    "axes.labelcolor": TEXT,
    "axes.edgecolor": MUTED_TEXT,
    "axes.titlesize": FONT_SIZE,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "xtick.color": MUTED_TEXT,
    "ytick.color": MUTED_TEXT,
    "xtick.labelcolor": TEXT,
    "ytick.labelcolor": TEXT,
    "xtick.labelsize": SMALL_FONT_SIZE,
    "ytick.labelsize": SMALL_FONT_SIZE,
    "legend.fontsize": SMALL_FONT_SIZE,
    "legend.frameon": False,
    "grid.color": GRID,
    "figure.facecolor": BACKGROUND,
    "axes.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
}
TEXT_TO_PATH = TextToPath()
SVG_METADATA = {"Creator": None, "Date": None}

TickStyle = Literal["plain", "thousands", "grouped", "seconds"]
TICK_LABELS: dict[str, Callable[[float], str]] = {
    "plain": lambda value: f"{value:g}",
    "thousands": lambda value: f"{value / 1000:g}k" if value else "0",
    "grouped": lambda value: f"{value:,.0f}",
    "seconds": lambda value: f"{value:g} s",
}


def stamp(what: str, when: datetime | None = None, by: str | None = None) -> str:
    """ "<what> <date> [by <by>] on N CPUs (system), Python x; versions." for every figure."""
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


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Series(_Data):
    name: str
    points: list[tuple[float, float]]  # (x, y) in the chart's units


class Panel(_Data):
    title: str
    y_label: str
    series: list[Series]
    y_ticks: TickStyle = "plain"


class LineChart(_Data):
    """Line charts side by side on one x axis: each panel its own y axis and series."""

    kind: Literal["lines"] = "lines"
    panels: list[Panel]
    x_label: str
    x_ticks: TickStyle = "plain"
    stamp: str
    narrow: bool = False


class Bar(_Data):
    label: str
    value: float
    group: int  # which of the chart's groups (its colour and legend entry)
    note: str  # written at the end of the bar


class Reference(_Data):
    value: float
    label: str


class LogBarChart(_Data):
    """Horizontal bars on a log axis, so 2 and 100 are both readable, with reference lines."""

    kind: Literal["log_bars"] = "log_bars"
    title: str
    x_label: str
    unit: str  # after each tick's number: "·D"
    groups: list[str]
    bars: list[Bar]
    references: list[Reference]
    stamp: str


class Track(_Data):
    key: str
    legend: str


class Span(_Data):
    track: str  # a Track's key
    start: float
    end: float


class TimelineRow(_Data):
    label: str
    spans: list[Span]
    note: str  # after the end of the row's first span

    def span(self, track: str) -> Span:
        return next(span for span in self.spans if span.track == track)


class Timeline(_Data):
    """Rows of spans on one time axis, each track a colour: what happened when."""

    kind: Literal["timeline"] = "timeline"
    title: str
    x_label: str
    tracks: list[Track]
    rows: list[TimelineRow]
    stamp: str


class Marker(_Data):
    at: float
    label: str


class Lane(_Data):
    spans: list[Span]  # each on one of the chart's tracks


class LanePanel(_Data):
    title: str
    lanes: list[Lane]
    markers: list[Marker]  # a vertical line each, labelled above the lanes


class LaneChart(_Data):
    """Many unlabelled lanes of spans (one per job, say) in panels over one time axis, with
    vertical markers: what each of many things did when, against the events that moved them.
    A track drawn `thin` is a line (waiting), the others bars (running)."""

    kind: Literal["lanes"] = "lanes"
    title: str
    x_label: str
    tracks: list[Track]
    thin_tracks: list[str]  # keys of the tracks drawn as a thin line
    panels: list[LanePanel]
    markers_legend: str  # what the markers are: "SIGTERM"
    stamp: str


Chart = Annotated[LineChart | LogBarChart | Timeline | LaneChart, Field(discriminator="kind")]
CHART: TypeAdapter[Chart] = TypeAdapter(Chart)


def data_file(svg: Path) -> Path:
    """Where a chart's data is kept: beside it, same name."""
    return svg.with_suffix(".json")


def write(chart: Chart, svg: Path) -> list[Path]:
    """Store the chart's data file and draw the chart from it; the two files written."""
    svg.parent.mkdir(parents=True, exist_ok=True)
    data = data_file(svg)
    text = json.dumps(CHART.dump_python(chart, mode="json"), indent=2, ensure_ascii=False)
    # A point on one line, "[10000.0, 1253.0]", so the file reads like the table it holds.
    text = re.sub(r"\[\s+([^\s,\[\]]+),\s+([^\s,\[\]]+)\s+\]", r"[\1, \2]", text)
    data.write_text(text + "\n", encoding="utf-8")
    svg.write_text(draw(chart), encoding="utf-8")
    return [data, svg]


def load(svg: Path) -> Chart:
    """The data a chart is drawn from."""
    return CHART.validate_json(data_file(svg).read_bytes())


def charts_in(folder: Path = DOCS) -> list[Path]:
    """Every SVG under `folder`, each a chart with its data file (symlinked copies left out)."""
    return sorted(svg for svg in folder.rglob("*.svg") if not svg.is_symlink())


def draw(chart: Chart) -> str:
    """The chart as an SVG document: the same text every time for the same data."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(layout="constrained")
        if isinstance(chart, LineChart):
            _draw_lines(figure, chart)
        elif isinstance(chart, LogBarChart):
            _draw_log_bars(figure, chart)
        elif isinstance(chart, LaneChart):
            _draw_lanes(figure, chart)
        else:
            _draw_timeline(figure, chart)
        _draw_stamp(figure, chart.stamp)
        svg = io.StringIO()
        figure.savefig(
            svg, format="svg", metadata=SVG_METADATA, bbox_inches="tight", pad_inches=0.15
        )
    return svg.getvalue()


def _size(figure: Figure, width_points: float, height_points: float) -> None:
    figure.set_size_inches(width_points / POINTS_PER_INCH, height_points / POINTS_PER_INCH)


def _draw_stamp(figure: Figure, text: str) -> None:
    """The stamp under everything else, wrapped to the figure's width."""
    lines = _wrap(text, figure.get_figwidth() * POINTS_PER_INCH, SMALL_FONT_SIZE)
    figure.supxlabel("\n".join(lines), x=0.0, ha="left", fontsize=SMALL_FONT_SIZE, color=MUTED_TEXT)


def _wrap(text: str, width_points: float, size: float) -> list[str]:
    """Words filled into lines no wider than `width_points`, measured in the chart's font."""
    font = FontProperties(family="sans-serif", size=size)  # DejaVu Sans, under STYLE
    lines: list[str] = []
    for word in text.split():
        longer = f"{lines[-1]} {word}" if lines else word
        width, _, _ = TEXT_TO_PATH.get_text_width_height_descent(longer, font, ismath=False)
        if lines and width <= width_points:
            lines[-1] = longer
        else:
            lines.append(word)
    return lines


def _tidy(axes: Axes) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_axisbelow(True)


def _draw_lines(figure: Figure, chart: LineChart) -> None:
    _size(figure, NARROW_POINTS if chart.narrow else WIDE_POINTS, 240)
    with_legend = any(len(panel.series) > 1 for panel in chart.panels)
    for axes, panel in zip(
        figure.subplots(1, len(chart.panels), squeeze=False)[0], chart.panels, strict=True
    ):
        for colour, series in zip(SERIES, panel.series, strict=False):
            xs, ys = zip(*series.points, strict=True)
            axes.plot(
                xs, ys, color=colour, linewidth=2, marker="o", markersize=4, label=series.name
            )
        if len(panel.series) > 1:
            # Above the plot, under the panel's title: never over a line.
            axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=len(panel.series))
        axes.set_title(panel.title, pad=24 if with_legend else 6)
        axes.set_ylabel(panel.y_label)
        axes.set_xlabel(chart.x_label)
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0, top=max(y for s in panel.series for _, y in s.points) * 1.15)
        axes.xaxis.set_major_formatter(_ticks(chart.x_ticks))
        axes.yaxis.set_major_formatter(_ticks(panel.y_ticks))
        axes.grid(axis="y")
        _tidy(axes)


def _ticks(style: str) -> FuncFormatter:
    label = TICK_LABELS[style]
    return FuncFormatter(lambda value, _position: label(value))


def _draw_log_bars(figure: Figure, chart: LogBarChart) -> None:
    _size(figure, WIDE_POINTS, 70 + 24 * len(chart.bars))
    axes = figure.subplots()
    labels = [bar.label for bar in chart.bars]
    rows = range(len(chart.bars))
    colours = [SERIES[bar.group] for bar in chart.bars]
    values = [bar.value for bar in chart.bars]
    axes.barh(rows, values, height=0.7, color=colours)
    axes.set_xscale("log")
    low = min([*values, *(ref.value for ref in chart.references)]) / 2
    high = max([*values, *(ref.value for ref in chart.references)]) * 3.2  # room for the notes
    axes.set_xlim(low, high)
    axes.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axes.xaxis.set_minor_locator(LogLocator(subs=()))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}{chart.unit}"))
    axes.set_yticks(rows, labels)
    axes.invert_yaxis()
    axes.tick_params(axis="y", length=0)
    for row, bar in zip(rows, chart.bars, strict=True):
        axes.text(bar.value * 1.06, row, bar.note, va="center", fontsize=SMALL_FONT_SIZE)
    for number, reference in enumerate(chart.references):
        axes.axvline(reference.value, color=MUTED_TEXT, linestyle=(0, (4, 3)), linewidth=1)
        # Labels of reference lines close together stack, one per line, so they never overlap.
        axes.annotate(
            reference.label,
            (reference.value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 2 + 12 * (len(chart.references) - 1 - number)),
            textcoords="offset points",
            fontsize=SMALL_FONT_SIZE,
            color=MUTED_TEXT,
            va="bottom",
        )
    axes.grid(axis="x")
    axes.set_xlabel(chart.x_label)
    _titled_legend(figure, chart.title, chart.groups)
    _tidy(axes)


def _titled_legend(figure: Figure, title: str, names: Sequence[str]) -> None:
    """The chart's title and, under it, one colour per name in the series' order. One legend
    holds both: a figure title and a legend above the plot would both claim the top."""
    handles = [Patch(color=colour, label=name) for colour, name in zip(SERIES, names, strict=False)]
    figure.legend(
        handles=handles,
        loc="outside upper left",
        ncols=len(handles),
        title=title,
        alignment="left",
        title_fontproperties={"weight": "bold", "size": FONT_SIZE},
        borderaxespad=1.0,  # its title lines up with the stamp
    )


def _draw_timeline(figure: Figure, chart: Timeline) -> None:
    _size(figure, WIDE_POINTS, 90 + 40 * len(chart.rows))
    axes = figure.subplots()
    colours = {track.key: colour for track, colour in zip(chart.tracks, SERIES, strict=False)}
    lane = 1.0 / (len(chart.tracks) + 1)  # each row's height shared by its tracks and a gap
    for row_number, row in enumerate(chart.rows):
        for span in row.spans:
            track = [track.key for track in chart.tracks].index(span.track)
            axes.barh(
                row_number - 0.5 + lane * (track + 1),
                span.end - span.start,
                left=span.start,
                height=lane * 0.85,
                color=colours[span.track],
            )
        first = row.spans[0]
        axes.annotate(
            row.note,
            (first.end, row_number - 0.5 + lane),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=SMALL_FONT_SIZE,
        )
    axes.set_yticks(range(len(chart.rows)), [row.label for row in chart.rows])
    axes.set_ylim(len(chart.rows) - 0.5, -0.5)
    axes.set_xlim(left=0)
    axes.tick_params(axis="y", length=0)
    axes.xaxis.set_major_formatter(_ticks("seconds"))
    axes.grid(axis="x")
    axes.set_xlabel(chart.x_label)
    _titled_legend(figure, chart.title, [track.legend for track in chart.tracks])
    _tidy(axes)


LANE_POINTS = 1.6  # one lane's height: 150 jobs in 240 points
MARKER = SERIES[3]
MARKER_ROW = 11  # points: one marker's label


def _draw_lanes(figure: Figure, chart: LaneChart) -> None:
    heights = [
        30 + MARKER_ROW * len(panel.markers) + LANE_POINTS * len(panel.lanes)
        for panel in chart.panels
    ]
    _size(figure, WIDE_POINTS, 70 + sum(heights) + 30 * len(chart.panels))
    grid = figure.subplots(len(chart.panels), 1, sharex=True, height_ratios=heights, squeeze=False)
    colours = {track.key: colour for track, colour in zip(chart.tracks, SERIES, strict=False)}
    colours |= {key: MUTED_TEXT for key in chart.thin_tracks}
    for axes, panel in zip(grid[:, 0], chart.panels, strict=True):
        for number, lane in enumerate(panel.lanes):
            for span in lane.spans:
                thin = span.track in chart.thin_tracks
                axes.hlines(
                    number,
                    span.start,
                    span.end,
                    colors=colours[span.track],
                    linewidth=0.5 if thin else LANE_POINTS * 0.8,
                )
        markers = sorted(panel.markers, key=lambda marker: marker.at)
        for row, marker in enumerate(markers):
            axes.axvline(marker.at, color=MARKER, linestyle=(0, (3, 2)), linewidth=1)
            # A row of its own for each label, the last one lowest: markers seconds apart on a
            # minute's axis would overlap on one row.
            axes.annotate(
                marker.label,
                (marker.at, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, 2 + MARKER_ROW * (len(markers) - 1 - row)),
                textcoords="offset points",
                fontsize=SMALL_FONT_SIZE,
                color=TEXT,
                va="bottom",
            )
        axes.set_title(panel.title, pad=6 + MARKER_ROW * len(markers))
        axes.set_ylim(len(panel.lanes) - 0.5, -0.5)
        axes.set_yticks([])
        axes.set_xlim(left=0)
        axes.grid(axis="x")
        _tidy(axes)
    bottom = grid[-1, 0]
    bottom.xaxis.set_major_formatter(_ticks("seconds"))
    bottom.set_xlabel(chart.x_label)
    handles = [Patch(color=colours[track.key], label=track.legend) for track in chart.tracks]
    handles.append(Patch(color=MARKER, label=chart.markers_legend))
    figure.legend(
        handles=handles,
        loc="outside upper left",
        ncols=len(handles),
        title=chart.title,
        alignment="left",
        title_fontproperties={"weight": "bold", "size": FONT_SIZE},
        borderaxespad=1.0,
    )


def redraw_all(folder: Path = DOCS) -> list[Path]:
    """Every chart under `folder` drawn again from its data file; the charts drawn."""
    charts = charts_in(folder)
    for svg in charts:
        svg.write_text(draw(load(svg)), encoding="utf-8")
    return charts


if __name__ == "__main__":
    # python -m bench.charts: every chart under docs/ drawn again from its data file.
    for chart in redraw_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(f"drew {chart.relative_to(REPO_ROOT)}")
