"""Lineage: which datasets and columns a pipeline reads and writes, as OpenLineage events and
Apache Atlas entities (for Microsoft Purview).

The column lineage is computed from the spec (``column_lineage``); the OpenLineage listener
turns a run's events into START, RUNNING, COMPLETE, FAIL and ABORT events; ``render_lineage``
draws the column graph for ``tidegate lineage show``; ``atlas_entities`` exports the lineage
in the Atlas v2 shape Purview accepts. Heavy libraries (openlineage-python, sqlglot,
pyapacheatlas) are imported on first use.
"""
