"""``tidegate lineage show``: the column graph of a pipeline, for a terminal or as JSON.

One tree per output column: the column, how it was made, and the input columns (dataset and
column) it comes from with the transformation on each edge and the steps it went through.
``lineage_json`` is the same graph for programs (the dashboard's data-flow page draws it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.tree import Tree

if TYPE_CHECKING:
    from tidegate.lineage.columns import PipelineLineage
    from tidegate.lineage.datasets import Dataset

__all__ = ["lineage_json", "render_lineage"]

_STYLE = {
    "identity": "green",
    "renamed": "cyan",
    "cast": "cyan",
    "derived": "yellow",
    "masked": "magenta",
    "encrypted": "bold magenta",
    "unknown": "red",
}


def _styled(transformation: str) -> str:
    style = _STYLE.get(transformation.split(":", 1)[0], "white")
    return f"[{style}]{escape(transformation)}[/]"


def _short(dataset: Dataset, lineage: PipelineLineage) -> str:
    """A dataset's label: ``source`` for the first input, else its last path part."""
    if lineage.inputs and dataset == lineage.inputs[0]:
        return "source"
    return dataset.name.rsplit("/", 1)[-1]


def render_lineage(lineage: PipelineLineage) -> Tree:
    """A rich tree: the output dataset, each column with its inputs and transformations."""
    tree = Tree(
        f"[bold]{escape(lineage.pipeline)}[/] -> {escape(lineage.output.uri)}", highlight=False
    )
    inputs = tree.add("[dim]inputs[/]")
    for dataset in lineage.inputs:
        inputs.add(f"{escape(_short(dataset, lineage))}: {escape(dataset.uri)}")
    for column in lineage.columns:
        node = tree.add(f"[bold]{escape(column.column)}[/]  {_styled(column.transformation)}")
        if not column.inputs:
            node.add("[dim](made from no input column)[/]")
        for item in column.inputs:
            node.add(
                f"<- {escape(_short(item.dataset, lineage))}.{escape(item.column)}  "
                f"{_styled(item.transformation)}"
            )
        if column.steps:
            node.add(f"[dim]steps: {escape(' -> '.join(column.steps))}[/]")
    if lineage.indirect:
        rows = tree.add("[dim]rows chosen by (indirect)[/]")
        for use in lineage.indirect:
            rows.add(
                f"{escape(_short(use.dataset, lineage))}.{escape(use.column)}  "
                f"{escape(', '.join(use.subtypes))}  [dim]in {escape(', '.join(use.steps))}[/]"
            )
    for gap in lineage.gaps:
        tree.add(f"[red]incomplete:[/] {escape(gap)}")
    return tree


def lineage_json(lineage: PipelineLineage) -> dict[str, Any]:
    """The column graph as plain data: inputs, output, columns with their edges, the
    columns that choose rows (indirect), gaps."""

    def dataset(item: Dataset) -> dict[str, str]:
        return {"namespace": item.namespace, "name": item.name, "kind": item.kind}

    return {
        "pipeline": lineage.pipeline,
        "inputs": [dataset(item) for item in lineage.inputs],
        "output": dataset(lineage.output),
        "columns": [
            {
                "column": column.column,
                "transformation": column.transformation,
                "steps": list(column.steps),
                "inputs": [
                    {
                        "namespace": item.dataset.namespace,
                        "name": item.dataset.name,
                        "column": item.column,
                        "transformation": item.transformation,
                    }
                    for item in column.inputs
                ],
            }
            for column in lineage.columns
        ],
        "indirect": [
            {
                "namespace": item.dataset.namespace,
                "name": item.dataset.name,
                "column": item.column,
                "subtypes": list(item.subtypes),
                "steps": list(item.steps),
            }
            for item in lineage.indirect
        ],
        "gaps": list(lineage.gaps),
    }
