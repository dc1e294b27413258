"""OpenLineage run events of a Tidegate run, built with openlineage-python's classes.

Imported only when a pipeline has a ``lineage:`` section (openlineage-python is not light).

Pure functions from what a run knows (its spec's lineage, schemas, quality figures, outcome)
to ``RunEvent`` objects; the listener decides when to build and send them. The facets used:

- job: ``jobType`` (BATCH, integration TIDEGATE), ``documentation`` (the spec's description),
  ``ownership`` (its owner);
- run: ``processing_engine`` (Tidegate and its version), ``errorMessage`` on FAIL and ABORT;
- datasets: ``schema`` on every input and the output, ``columnLineage`` on the output,
  ``inputStatistics``/``outputStatistics`` (rows read and written) when the run finished,
  ``dataQualityMetrics`` and ``dataQualityAssertions`` on the output from the quality rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.column_lineage_dataset import (
    ColumnLineageDatasetFacet,
    Fields,
    InputField,
    Transformation,
)
from openlineage.client.generated.data_quality_assertions_dataset import (
    Assertion,
    DataQualityAssertionsDatasetFacet,
)
from openlineage.client.generated.data_quality_metrics_dataset import (
    ColumnMetrics,
    DataQualityMetricsDatasetFacet,
)
from openlineage.client.generated.documentation_job import DocumentationJobFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.input_statistics_input_dataset import (
    InputStatisticsInputDatasetFacet,
)
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet,
)
from openlineage.client.generated.ownership_job import Owner, OwnershipJobFacet
from openlineage.client.generated.processing_engine_run import ProcessingEngineRunFacet
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidegate.events import QualityMeasured
    from tidegate.lineage.columns import ColumnInput, PipelineLineage

__all__ = ["PRODUCER", "RunFacts", "run_event", "schema_fields", "transformation_facet"]


def _version() -> str:
    # the installed distribution's version (importing the tidegate package would pull in app)
    try:
        return version("tidegate")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = _version()
PRODUCER = f"https://pypi.org/project/tidegate/{VERSION}/"
"""The ``producer`` of every event and facet: this version of Tidegate."""


class RunFacts:
    """What one run has told so far, gathered by the listener from the run's events."""

    def __init__(
        self,
        *,
        run_id: str,
        lineage: PipelineLineage,
        namespace: str,
        description: str | None = None,
        owner: str | None = None,
        input_schema: Sequence[tuple[str, str]] | None = None,
        output_schema: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        self.run_id = run_id
        self.lineage = lineage
        self.namespace = namespace
        self.description = description
        self.owner = owner
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.quality: QualityMeasured | None = None
        self.rows_read: int | None = None
        self.rows_written: int | None = None


def transformation_facet(item: ColumnInput) -> Any:
    """One input field's transformation in the column-lineage facet's terms.

    Every Tidegate transformation carries the input's value into the output (DIRECT); identity
    and renamed keep it as it is (IDENTITY), the others change it (TRANSFORMATION), and masked
    and encrypted set ``masking`` so catalogs know the output does not hold the clear value.
    """

    kind = item.transformation
    base = kind.split(":", 1)[0]
    return Transformation(
        type="DIRECT",
        subtype="IDENTITY" if base in {"identity", "renamed"} else "TRANSFORMATION",
        description=kind,
        masking=base in {"masked", "encrypted"},
    )


def _schema_facet(fields: Sequence[tuple[str, str]]) -> Any:

    return SchemaDatasetFacet(
        fields=[
            SchemaDatasetFacetFields(name=name, type=kind or None, ordinal_position=position)
            for position, (name, kind) in enumerate(fields, start=1)
        ],
        producer=PRODUCER,
    )


def _column_lineage_facet(lineage: PipelineLineage) -> Any:

    return ColumnLineageDatasetFacet(
        fields={
            column.column: Fields(
                inputFields=[
                    InputField(
                        namespace=item.dataset.namespace,
                        name=item.dataset.name,
                        field=item.column,
                        transformations=[transformation_facet(item)],
                    )
                    for item in column.inputs
                ],
                transformationDescription=column.transformation,
                transformationType="IDENTITY"
                if column.transformation in {"identity", "renamed"}
                else "MASKED"
                if column.transformation.startswith(("masked", "encrypted"))
                else "TRANSFORMATION",
            )
            for column in lineage.columns
        },
        dataset=[
            InputField(
                namespace=item.dataset.namespace,
                name=item.dataset.name,
                field=item.column,
                transformations=[
                    Transformation(type="INDIRECT", subtype=subtype, description=subtype.lower())
                    for subtype in item.subtypes
                ],
            )
            for item in lineage.indirect
        ],
        producer=PRODUCER,
    )


def _quality_facets(quality: QualityMeasured) -> dict[str, Any]:
    """Metrics (rows checked, nulls where completeness was measured) and one assertion per
    rule (passed when no row failed it)."""

    metrics = {}
    for column, shares in quality.columns.items():
        complete = shares.get("completeness")
        metrics[column] = ColumnMetrics(
            nullCount=None if complete is None else round((1 - complete) * quality.rows),
            count=float(quality.rows),
        )
    assertions = [
        Assertion(
            assertion=str(rule.get("id") or rule.get("type")),
            success=int(rule.get("failed") or 0) == 0,
            column=rule.get("column") or None,
            severity=rule.get("severity") or None,
            name=str(rule.get("type")) if rule.get("type") else None,
            actual=str(rule.get("failed")) if rule.get("failed") is not None else None,
        )
        for rule in quality.rules
    ]
    return {
        "dataQualityMetrics": DataQualityMetricsDatasetFacet(
            columnMetrics=metrics, rowCount=quality.rows, producer=PRODUCER
        ),
        "dataQualityAssertions": DataQualityAssertionsDatasetFacet(
            assertions=assertions, producer=PRODUCER
        ),
    }


def _inputs(facts: RunFacts, finished: bool) -> list[InputDataset]:

    lineage = facts.lineage
    found = []
    for position, dataset in enumerate(lineage.inputs):
        facets: dict[str, Any] = {}
        if position == 0 and facts.input_schema is not None:
            facets["schema"] = _schema_facet(facts.input_schema)
        elif lineage.input_columns.get(dataset):
            facets["schema"] = _schema_facet([(c, "") for c in lineage.input_columns[dataset]])
        input_facets: dict[str, Any] = {}
        if position == 0 and finished and facts.rows_read is not None:
            input_facets["inputStatistics"] = InputStatisticsInputDatasetFacet(
                rowCount=facts.rows_read, producer=PRODUCER
            )
        found.append(
            InputDataset(
                namespace=dataset.namespace,
                name=dataset.name,
                facets=facets,
                inputFacets=input_facets,
            )
        )
    return found


def _output(facts: RunFacts, finished: bool) -> OutputDataset:

    lineage = facts.lineage
    schema = facts.output_schema or [(column.column, "") for column in lineage.columns]
    facets: dict[str, Any] = {
        "schema": _schema_facet(schema),
        "columnLineage": _column_lineage_facet(lineage),
    }
    if finished and facts.quality is not None:
        facets.update(_quality_facets(facts.quality))
    output_facets: dict[str, Any] = {}
    if finished and facts.rows_written is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=facts.rows_written, producer=PRODUCER
        )
    return OutputDataset(
        namespace=lineage.output.namespace,
        name=lineage.output.name,
        facets=facets,
        outputFacets=output_facets,
    )


def _job_facets(facts: RunFacts) -> dict[str, Any]:

    facets: dict[str, Any] = {
        "jobType": JobTypeJobFacet(
            processingType="BATCH", integration="TIDEGATE", jobType="JOB", producer=PRODUCER
        )
    }
    if facts.description:
        facets["documentation"] = DocumentationJobFacet(
            description=facts.description, producer=PRODUCER
        )
    if facts.owner:
        facets["ownership"] = OwnershipJobFacet(owners=[Owner(name=facts.owner)], producer=PRODUCER)
    return facets


def run_event(
    facts: RunFacts,
    event_type: str,
    *,
    at: datetime | None = None,
    error: str | None = None,
) -> RunEvent:
    """The ``event_type`` (START, RUNNING, COMPLETE, FAIL, ABORT) event of the run.

    START and the final event carry every dataset with its facets; RUNNING carries the job and
    run only (it says the run is alive, and is cheap to send). ``error`` becomes the
    ``errorMessage`` run facet.
    """
    state = RunState(event_type)
    finished = state in {RunState.COMPLETE, RunState.FAIL, RunState.ABORT}
    run_facets: dict[str, Any] = {
        "processing_engine": ProcessingEngineRunFacet(
            version=VERSION, name="tidegate", producer=PRODUCER
        )
    }
    if error is not None:
        run_facets["errorMessage"] = ErrorMessageRunFacet(
            message=error, programmingLanguage="python", producer=PRODUCER
        )
    with_datasets = state is not RunState.RUNNING
    return RunEvent(
        eventType=state,
        eventTime=(at or datetime.now(UTC)).isoformat(),
        run=Run(runId=facts.run_id, facets=run_facets),
        job=Job(namespace=facts.namespace, name=facts.lineage.pipeline, facets=_job_facets(facts)),
        producer=PRODUCER,
        inputs=_inputs(facts, finished) if with_datasets else [],
        outputs=[_output(facts, finished)] if with_datasets else [],
    )


def schema_fields(schema: Any) -> list[tuple[str, str]] | None:
    """``(name, type)`` pairs of a pyarrow schema, or None."""
    if schema is None:
        return None
    return [(field.name, str(field.type)) for field in schema]
