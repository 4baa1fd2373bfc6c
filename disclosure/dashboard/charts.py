"""Server-rendered SVG charts of the dashboard (pygal), made fit for the portal's pages.

The portal's Content-Security-Policy allows no script and only the page's own nonce'd style, so
each chart is cleaned after pygal draws it: its scripts, comments and its tooltip layer (JavaScript-driven,
with an inline `style` attribute) are removed, and its stylesheet is taken out of the SVG to go in
the page's `<style>` element. The SVG is then a picture with a name (`role="img"`, `aria-label`);
the page puts a table of the same numbers beside it for screen readers and for reading exact values.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

import pygal
from markupsafe import Markup
from pygal.etree import etree as pygal_etree
from pygal.style import Style

# pygal draws with lxml when it is installed (ocdskit brings it); the cleaning below walks and writes
# the standard library's ElementTree, so pygal is told to use that one whatever else is installed.
pygal_etree.to_etree()

SVG = "{http://www.w3.org/2000/svg}"

FONTS = (
    'system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#111111",
    foreground_strong="#111111",
    foreground_subtle="#555555",
    opacity="1",
    opacity_hover="1",
    transition="none",
    colors=("#0b3d6e", "#8a4500", "#2e6b30", "#6e0f0f", "#4b2c7a"),
    font_family=FONTS,
    label_font_family=FONTS,
    major_label_font_family=FONTS,
    value_font_family=FONTS,
    value_label_font_family=FONTS,
    title_font_family=FONTS,
    legend_font_family=FONTS,
    title_font_size=18,
    label_font_size=16,
    major_label_font_size=16,
    value_font_size=16,
    value_label_font_size=16,
    legend_font_size=16,
    no_data_font_size=20,
)

WIDTH = 440
"""The viewBox width: narrow, so that its 16-unit text stays legible scaled down to a 360 px phone."""


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    css: Markup
    """The chart's own stylesheet (scoped to its id), for the page's nonce'd `<style>`."""


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    value_format: str = "{:,.2f}",
    range_: tuple[float, float] | None = None,
    no_data: str = "—",
) -> Chart:
    """A column chart of one or more series over the labels, each value printed above its column.

    Columns, not bars: pygal sizes a bar chart's left margin for Latin letters, and cuts Chinese
    labels short there; under columns a label has the column's width (tilted when there are many).
    """
    chart = pygal.Bar(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        width=WIDTH,
        height=340,
        title=title,
        show_legend=len(series) > 1,
        legend_at_bottom=True,
        legend_at_bottom_columns=len(series),
        print_values=True,
        print_values_position="top",
        value_formatter=lambda value: "" if value is None else value_format.format(value),
        truncate_label=-1,
        truncate_legend=-1,
        range=range_,
        include_x_axis=True,
        max_scale=5,
        x_label_rotation=30 if _too_wide(labels) else 0,
        no_data_text=no_data,
        margin=8,
        spacing=10,
    )
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return _clean(chart, title)


def _too_wide(labels: Sequence[str]) -> bool:
    """Labels that would not fit side by side under the columns (a Chinese character is a full em)."""
    ems = sum(sum(1.0 if ord(c) > 0x2E80 else 0.6 for c in label) + 1 for label in labels)
    return ems * STYLE.label_font_size > WIDTH - 80


def _clean(chart: pygal.graph.graph.Graph, title: str) -> Chart:
    chart.uuid = uuid.uuid4().hex  # a valid CSS id whatever pygal's own
    root = chart.render_tree()
    css: list[str] = []
    for parent in root.iter():
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""
            cls = child.get("class", "")
            if child.tag is ElementTree.Comment or tag in (f"{SVG}script", "script"):
                parent.remove(child)
            elif tag in (f"{SVG}style", "style"):
                css.append(child.text or "")
                parent.remove(child)
            elif "tooltip-overlay" in cls or child.get("style") is not None:
                parent.remove(child)
    root.set("role", "img")
    root.set("aria-label", title)
    root.set("focusable", "false")
    ElementTree.register_namespace("", SVG.strip("{}"))
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    svg = ElementTree.tostring(root, encoding="unicode", short_empty_elements=True)
    # pygal draws from our own numbers and texts, escaped by ElementTree as it writes.
    return Chart(title=title, svg=Markup(svg), css=Markup("\n".join(css)))  # noqa: S704
