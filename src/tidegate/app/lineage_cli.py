"""``tidegate lineage show|export``: a pipeline's column lineage, without running it.

``show`` prints the column graph: each output column, the input columns it comes from and how
(identity, renamed, cast, masked, encrypted, derived, unknown). ``export --format atlas``
writes the Apache Atlas v2 type definitions and entities Microsoft Purview's Atlas API takes
(docs/lineage.md); ``--format json`` the column graph as data. Both read the source's schema
(a file's header, a query's columns) when the source can tell it cheaply, so ``*`` and columns
the spec does not list are resolved; when it cannot, the lineage rests on the spec alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path  # noqa: TC003 - typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tidegate.app.console import PipelineArg, SetOption, err, fail, out
from tidegate.errors import TidegateError

if TYPE_CHECKING:
    from tidegate.lineage.columns import PipelineLineage

__all__ = ["lineage_app", "pipeline_lineage"]

lineage_app = typer.Typer(
    help="Column lineage: show the column graph, export it for Apache Atlas / Purview.",
    no_args_is_help=True,
)


def pipeline_lineage(pipeline: Path, sets: list[str]) -> PipelineLineage:
    """The column lineage of the pipeline file, with the source schema where it can be read."""
    from tidegate.app.bootstrap import build, load  # noqa: PLC0415 - keeps --help fast
    from tidegate.lineage.columns import column_lineage  # noqa: PLC0415

    spec = load(pipeline, overrides=sets)
    columns = None
    try:
        first = spec.steps[0].name if spec.steps else None
        schema = build(spec).schema_at(first)
    except TidegateError as exc:  # no data yet: the spec alone still tells most of it
        err.print(
            f"[yellow]note[/]: the source's schema is unknown ({exc.message}); "
            "lineage from the spec alone",
            highlight=False,
        )
    else:
        columns = None if schema is None else list(schema.names)
    return column_lineage(spec, source_columns=columns)


@lineage_app.command("show")
def show(
    pipeline: PipelineArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """Print the column graph: each loaded column and the input columns it comes from."""
    from tidegate.lineage.render import lineage_json, render_lineage  # noqa: PLC0415

    try:
        lineage = pipeline_lineage(pipeline, set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(lineage_json(lineage), indent=2) + "\n")
        return
    out.print(render_lineage(lineage))


@lineage_app.command("export")
def export(
    pipeline: PipelineArg,
    format_: Annotated[
        Literal["atlas", "json"],
        typer.Option("--format", help="atlas: Atlas v2 typedefs and entities; json: the graph."),
    ] = "atlas",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", help="Namespace of the pipeline's process.")
    ] = "tidegate",
    set_: SetOption = None,
) -> None:
    """Export the lineage: Apache Atlas v2 entities for Purview, or the graph as JSON."""
    from tidegate.lineage.atlas import atlas_export  # noqa: PLC0415
    from tidegate.lineage.render import lineage_json  # noqa: PLC0415

    try:
        lineage = pipeline_lineage(pipeline, set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc
    document = (
        atlas_export(lineage, namespace=namespace) if format_ == "atlas" else lineage_json(lineage)
    )
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", highlight=False)
