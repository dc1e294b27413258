"""Lineage: which datasets and columns a pipeline reads and writes, as OpenLineage events and
as Apache Atlas entities (for Microsoft Purview).

- ``tidegate.lineage.columns.column_lineage(spec)``: the column lineage from the spec;
- ``tidegate.lineage.listener.OpenLineageListener``: START, RUNNING, COMPLETE, FAIL and ABORT
  events of every run, sent through file, HTTP or console transports;
- ``tidegate.lineage.render``: the column graph for ``tidegate lineage show`` and as JSON;
- ``tidegate.lineage.atlas.atlas_export``: Atlas v2 type definitions and entities.

Nothing is imported here: openlineage-python and sqlglot load only when lineage is used.
"""
