"""What a chart's SVG says about how it reads: its background, its text and its colours.

The charts are shown as `<img>`, where axe-core cannot look, so the docs tests compute WCAG
contrast from the colours the SVG itself declares. bench/charts.py writes every style inline
(matplotlib's SVG backend: `style="fill: #24292f; font-size: 9px"`), so reading the `style`
attributes finds every colour drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree

SVG = "{http://www.w3.org/2000/svg}"
HEX_COLOUR = re.compile(r"^#[0-9a-f]{6}$")


def styles(element: ElementTree.Element) -> dict[str, str]:
    """An element's inline style as a dict: {"fill": "#24292f", "font-size": "9px"}."""
    declarations = (part.split(":", 1) for part in element.get("style", "").split(";") if part)
    return {name.strip(): value.strip() for name, value in declarations}


@dataclass(frozen=True)
class ChartText:
    text: str
    colour: str
    size: float  # in the SVG's units


@dataclass(frozen=True)
class ChartSvg:
    root: ElementTree.Element

    @classmethod
    def parse(cls, svg_text: str) -> ChartSvg:
        return cls(ElementTree.fromstring(svg_text))

    @property
    def width(self) -> float:
        """The viewBox's width: the units the text sizes are in."""
        return float(self.root.attrib["viewBox"].split()[2])

    @property
    def background(self) -> str:
        """The colour of the rectangle drawn first, which must cover the whole chart."""
        first = next(self.root.iter(f"{SVG}path"))
        corners = re.findall(r"[-\d.]+", first.attrib["d"])
        xs, ys = [float(x) for x in corners[0::2]], [float(y) for y in corners[1::2]]
        _, _, width, height = (float(value) for value in self.root.attrib["viewBox"].split())
        covers = min(xs) <= 0 and min(ys) <= 0 and max(xs) >= width and max(ys) >= height
        assert covers, f"the first shape {first.attrib['d']!r} does not cover {width}x{height}"
        fill = styles(first).get("fill", "")
        assert HEX_COLOUR.match(fill), f"the background is not an opaque colour: {fill!r}"
        assert "opacity" not in first.get("style", ""), "the background is not opaque"
        return fill

    def texts(self) -> list[ChartText]:
        found = []
        for element in self.root.iter(f"{SVG}text"):
            style = styles(element)
            words = " ".join("".join(element.itertext()).split())
            size = float(style["font-size"].removesuffix("px"))
            found.append(ChartText(words, style.get("fill", "#000000"), size))
        return found

    def shape_colours(self) -> set[str]:
        """Every fill and stroke colour of a shape (everything but text), background included."""
        colours = set()
        for element in self.root.iter():
            if element.tag == f"{SVG}text":
                continue
            for prop in ("fill", "stroke"):
                value = styles(element).get(prop, "none")
                if value != "none":
                    colours.add(value)
        return colours

    def opacities(self) -> list[str]:
        """Any opacity the chart sets: contrast is computed on opaque colours only."""
        return [
            f"{name}: {value}"
            for element in self.root.iter()
            for name, value in styles(element).items()
            if "opacity" in name and float(value) < 1
        ]


def relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of a #rrggbb colour (0 black, 1 white)."""
    assert HEX_COLOUR.match(colour), colour

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2.1's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted(map(relative_luminance, (first, second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
