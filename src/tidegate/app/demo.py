"""``tidegate demo``: generate the seeded dataset, run the example pipeline, suggest next steps."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.panel import Panel

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.demo_data import generate
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

__all__ = ["run_demo"]


def run_demo(folder: Path, *, rows: int, seed: int, out: Console, err: Console) -> None:
    """Generate data into ``folder/data`` and run ``folder/pipeline.yaml`` on it."""
    pipeline = folder / "pipeline.yaml"
    if not pipeline.is_file():
        raise ConfigError(
            f"demo pipeline not found: {pipeline}",
            hint="run `tidegate demo` from the Tidegate repository root, or pass --dir",
        )
    began = time.perf_counter()
    files = generate(folder / "data", rows=rows, seed=seed)
    out.print(
        f"generated {files.customer_rows:,} customers and {files.order_rows:,} orders "
        f"in {time.perf_counter() - began:.1f}s -> {files.customers.parent}",
        highlight=False,
    )
    from tidegate.app.progress import ProgressListener  # noqa: PLC0415 - terminal only

    listeners = [ProgressListener(err)] if err.is_terminal else []
    result = run_pipeline(pipeline, listeners=listeners, log_level="warning")
    if result.error is not None:
        raise result.error
    spec_path = pipeline.resolve()
    warehouse = (folder / ".tidegate" / "warehouse.duckdb").resolve()
    out.print(
        Panel.fit(
            f"[bold green]demo run succeeded[/] run {result.run_id}\n"
            f"rows read {result.rows_read:,} · written {result.rows_written:,} · "
            f"rejected {result.rows_rejected:,} · {result.seconds:.2f}s "
            f"({result.rows_written / max(result.seconds, 1e-9):,.0f} rows/s)\n"
            f"warehouse: {warehouse}\n\n"
            "[bold]try next[/]\n"
            f'  query it:       .venv/bin/python -c "import duckdb; print(duckdb.connect('
            f"'{warehouse}', read_only=True).sql('SELECT country, count(*) FROM customers "
            "GROUP BY 1 ORDER BY 2 DESC'))\"\n"
            f"  validate:       tidegate validate {spec_path}\n"
            f"  JSON logs:      tidegate run {spec_path} --log-format json --log-level debug\n"
            f"  override a key: tidegate run {spec_path} --set destination.table=customers_copy\n"
            "  start your own: tidegate init my_pipeline",
            title="tidegate demo",
        ),
        highlight=False,
    )
