"""Chart geometry for the pages' inline SVG: coordinates and labels, never markup.

The templates draw the SVG from these shapes, so every label (a step name, a figure) passes
through Jinja2's autoescaping like any other value; nothing here builds a string of markup.
Charts are drawn on the server, so the pages need no chart library and no script.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tidegate.web.models import EndpointView, LineageView, StepView, TimeShare

__all__ = [
    "Bar",
    "Box",
    "Edge",
    "Flow",
    "LineageGraph",
    "LineageLabel",
    "LineageLink",
    "Series",
    "flow",
    "lineage_graph",
    "series",
    "time_bars",
]

_PAD = 6.0


@dataclass(frozen=True, slots=True)
class Dot:
    """One value of a series: where it is drawn and what its tooltip says."""

    x: float
    y: float
    title: str
    failed: bool


@dataclass(frozen=True, slots=True)
class Series:
    """A line chart of one figure over runs, oldest on the left."""

    title: str
    width: int
    height: int
    points: str
    dots: tuple[Dot, ...]
    top: str
    empty: bool


def series(
    title: str,
    values: Sequence[float | None],
    labels: Sequence[str],
    failed: Sequence[bool],
    *,
    unit: str = "",
    width: int = 480,
    height: int = 120,
) -> Series:
    """The line chart of ``values`` (oldest first); runs without the figure are left out."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    top = max((v for _, v in known), default=0.0)
    scale = top if top > 0 else 1.0
    step = (width - 2 * _PAD) / max(len(values) - 1, 1)
    dots = tuple(
        Dot(
            x=round(_PAD + i * step, 1),
            y=round(height - _PAD - (v / scale) * (height - 2 * _PAD), 1),
            title=f"{labels[i]}: {_figure(v)}{unit}",
            failed=failed[i],
        )
        for i, v in known
    )
    return Series(
        title=title,
        width=width,
        height=height,
        points=" ".join(f"{dot.x},{dot.y}" for dot in dots),
        dots=dots,
        top=f"{_figure(top)}{unit}",
        empty=not dots,
    )


@dataclass(frozen=True, slots=True)
class Bar:
    """A horizontal bar of a share of wall time."""

    label: str
    y: float
    width: float
    text: str


def time_bars(shares: Sequence[TimeShare], *, width: int = 300) -> tuple[Bar, ...]:
    """One bar per slice of wall time, 22 px apart, as wide as its share of ``width``."""
    return tuple(
        Bar(
            label=share.label,
            y=i * 22.0,
            width=round(max(share.share, 0.0) * width, 1),
            text=f"{share.seconds:.3f} s ({share.share:.0%})",
        )
        for i, share in enumerate(shares)
    )


@dataclass(frozen=True, slots=True)
class Box:
    """A node of the data-flow diagram: ``label`` (its role or step name), ``detail`` (its
    type and what it reads or writes, empty when unknown) and ``note`` (its rows)."""

    x: float
    y: float
    width: float
    height: float
    label: str
    detail: str
    note: str
    kind: str


@dataclass(frozen=True, slots=True)
class Edge:
    """An arrow between two nodes, labelled with the rows that went along it."""

    x1: float
    x2: float
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Flow:
    """The data-flow diagram: source, the steps in order, destination."""

    width: int
    height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


_BOX_W, _BOX_H, _GAP = 130.0, 70.0, 90.0


def flow(
    steps: Sequence[StepView],
    *,
    rows_read: int | None,
    rows_written: int | None,
    source: EndpointView | None = None,
    destination: EndpointView | None = None,
    step_types: Mapping[str, str] | None = None,
) -> Flow:
    """Source -> each step -> destination; edges carry the rows passed along, steps note
    the rows they rejected. Figures unknown (a run that failed early) show as ``?``.

    ``source`` and ``destination`` (from the run's spec) name the ends by type and table or
    file; ``step_types`` gives each spec step's type. Without them the boxes say only
    their role, as for runs recorded before specs were kept.
    """
    types = step_types or {}
    ordered = sorted(steps, key=lambda s: s.position)
    nodes: list[tuple[str, str, str, str]] = [
        ("source", _endpoint(source), f"{_count(rows_read)} read", "source")
    ]
    nodes += [
        (
            step.step,
            types.get(step.step, ""),
            f"{step.rejected:,} rejected",
            "rejecting" if step.rejected else "step",
        )
        for step in ordered
    ]
    edge_rows: list[int | None] = [ordered[0].rows_in if ordered else rows_read]
    edge_rows += [step.rows_out for step in ordered]
    nodes.append(
        ("destination", _endpoint(destination), f"{_count(rows_written)} written", "destination")
    )
    boxes = tuple(
        Box(
            x=_PAD + i * (_BOX_W + _GAP),
            y=_PAD + 18,
            width=_BOX_W,
            height=_BOX_H,
            label=label,
            detail=detail,
            note=note,
            kind=kind,
        )
        for i, (label, detail, note, kind) in enumerate(nodes)
    )
    edges = tuple(
        Edge(
            x1=boxes[i].x + _BOX_W,
            x2=boxes[i + 1].x,
            y=boxes[i].y + _BOX_H / 2,
            label=f"{_count(edge_rows[i])} rows",
        )
        for i in range(len(boxes) - 1)
    )
    width = int(boxes[-1].x + _BOX_W + _PAD)
    return Flow(width=width, height=int(_BOX_H + 2 * _PAD + 18), boxes=boxes, edges=edges)


def _endpoint(endpoint: EndpointView | None) -> str:
    if endpoint is None:
        return ""
    return f"{endpoint.type}: {endpoint.name}" if endpoint.name else endpoint.type


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


@dataclass(frozen=True, slots=True)
class LineageLabel:
    """A column's label in the column-lineage graph, at its row."""

    x: float
    y: float
    text: str
    title: str


@dataclass(frozen=True, slots=True)
class LineageLink:
    """An input column feeding an output column; ``kind`` (the transformation's family)
    picks the line's dash pattern and colour, so it reads without colour too."""

    x1: float
    y1: float
    x2: float
    y2: float
    kind: str
    title: str


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """Input columns on the left, loaded columns on the right, a line per feeding input."""

    width: int
    height: int
    inputs: tuple[LineageLabel, ...]
    outputs: tuple[LineageLabel, ...]
    links: tuple[LineageLink, ...]


_ROW = 20
_LABEL_W = 230
_LINK_W = 260


def lineage_graph(lineage: LineageView) -> LineageGraph:
    """Lay out ``lineage`` as two columns of labels joined by lines: every input column
    (``dataset.column``, in order of first use) on the left, every loaded column on the right.
    A loaded column from no input (a constant) has no line."""
    seen: dict[tuple[str, str], int] = {}
    for column in lineage.columns:
        for item in column.inputs:
            seen.setdefault((item.dataset, item.column), len(seen))
    left_x = _PAD + _LABEL_W
    right_x = left_x + _LINK_W
    top = _PAD + 10

    def row(index: int) -> float:
        return top + index * _ROW

    inputs = tuple(
        LineageLabel(x=left_x - 6, y=row(i), text=column, title=f"{_short(dataset)}: {column}")
        for (dataset, column), i in seen.items()
    )
    outputs = tuple(
        LineageLabel(
            x=right_x + 6,
            y=row(i),
            text=column.column,
            title=f"{column.column}: {column.transformation}",
        )
        for i, column in enumerate(lineage.columns)
    )
    links = tuple(
        LineageLink(
            x1=left_x,
            y1=row(seen[(item.dataset, item.column)]) - 4,
            x2=right_x,
            y2=row(i) - 4,
            kind=item.transformation.split(":", 1)[0],
            title=f"{item.column} → {column.column}: {item.transformation}",
        )
        for i, column in enumerate(lineage.columns)
        for item in column.inputs
    )
    rows = max(len(inputs), len(outputs), 1)
    width = int(right_x + _LABEL_W + _PAD)
    return LineageGraph(
        width=width, height=int(top + rows * _ROW), inputs=inputs, outputs=outputs, links=links
    )


def _short(name: str) -> str:
    """The last part of a dataset's name: a file's name, not its folder."""
    return PurePosixPath(name).name or name
