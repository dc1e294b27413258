"""Built-in sources: csv, parquet, jsonl, sql and rest, one module each.

Each module holds its plugin class and the ``Settings`` model it owns. Nothing is imported
here: the registry imports a source module the first time a pipeline names its ``kind``, so
``import tidegate`` never pays for pyarrow's CSV reader, SQLAlchemy or httpx.
"""
