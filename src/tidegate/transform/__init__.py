"""Transform steps: plain data-changing steps, one module per kind.

``sql`` and ``derive`` run DuckDB over the batch (zero-copy Arrow); ``select``, ``rename`` and
``cast`` are vectorised pyarrow; ``python`` calls a user function on the whole batch. Modules are
imported by the registry on first use, so importing this package costs nothing.
"""
