"""Chart geometry for the pages' inline SVG: coordinates and labels, never markup.

The templates draw the SVG from these shapes, so every label (a step name, a figure) passes
through Jinja2's autoescaping like any other value; nothing here builds a string of markup.
Charts are drawn on the server, so the pages need no chart library and no script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tidegate.web.models import EndpointView, StepView, TimeShare

__all__ = ["Bar", "Box", "Edge", "Flow", "Series", "flow", "series", "time_bars"]

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
