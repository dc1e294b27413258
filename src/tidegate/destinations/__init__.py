"""Destinations: where a run's batches land, each written inside one transaction per run.

One module per kind (``duckdb``, ``files``), each owning its ``Settings`` model. Modules are
imported by the registry on first use, so importing this package costs nothing.
"""
