"""Kill ``tidegate run`` with SIGKILL at random moments, ``--resume``, and compare every row.

Each destination gets ``TRIALS`` trials. A trial loads the 200k-row CSV (about 40 batches, one
commit each; DuckDB's odd trials keep its default ``commit_min_rows`` and commit once per row
group) into a fresh table, kills the run one to three times, resumes after each kill and
finally resumes to the end; the table must then hold the source's rows as a multiset: no id
missing or repeated, and the same md5 per row. Kill moments, drawn from a seeded RNG:

- ``timer``: a delay between 0 and the measured duration of the (remaining) load, counted from
  the run's ``run_started`` line: anywhere in open, read, write or commit;
- ``commit``: right after a randomly chosen ``batch_written`` line, or a random fraction of a
  batch's time later, which lands inside the next batch's write or commit.

Kills may land anywhere, the finishing commit and the moments after it included: a
``--resume`` of a run that had already finished loads nothing again.

Every kill is followed by a look at the destination: its table must hold exactly the rows its
latest checkpoint counts. Trials 0 and 10 also check that a plain ``run`` after a kill that left
an unfinished checkpoint refuses with exit 2 and names ``--resume``. Trials run three at a
time, each with its own database file or table and pipeline name. Reproduce a failure with the
seed printed in the message (``CHAOS_SEED=<base>``); ``CHAOS_TRIALS`` raises the trial count.
"""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from tests.chaos.harness import (
    ROWS,
    Digests,
    DuckdbTarget,
    Launch,
    Outcome,
    Target,
    pipeline_yaml,
    run_to_end,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

TRIALS = int(os.environ.get("CHAOS_TRIALS", "8"))  # raise it for a longer soak
WORKERS = 3
BASE_SEED = int(os.environ.get("CHAOS_SEED", "20240613"))
KINDS = ["duckdb", "sqlite", "postgres"]


@dataclass(frozen=True)
class Profile:
    """What an uninterrupted load looks like on this machine."""

    batches: int
    seconds: float  # from the run_started line to the last batch_written line


@dataclass
class Trial:
    """One trial's plan inputs and what happened."""

    kind: str
    number: int
    seed: str
    history: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    kills: int = 0
    refused: int = 0

    def explain(self) -> str:
        """Everything needed to read and reproduce a failed trial."""
        return (
            f"{self.kind} trial {self.number} (seed {self.seed!r}, CHAOS_SEED={BASE_SEED}):\n  "
            + "\n  ".join(self.history + [f"PROBLEM: {p}" for p in self.problems])
        )


def write_pipeline(
    target: Target, folder: Path, csv: Path, *, name: str, table: str, **settings: object
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.yaml"
    destination = target.destination(folder, table, **settings)
    path.write_text(pipeline_yaml(name=name, csv=csv, destination=destination))
    return path


def tail(outcome: Outcome) -> str:
    return outcome.stderr.strip()[-1500:]


def logged_at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]))


def calibrate(target: Target, folder: Path, source: tuple[Path, Digests]) -> Profile:
    """Load once without a kill: the content must match, and the timings set the kill range."""
    csv, expected = source
    pipeline = write_pipeline(target, folder, csv, name="chaos_calibration", table="calibration")
    launch = Launch(pipeline)
    outcome = launch.finish()
    assert outcome.returncode == 0, tail(outcome)
    started = next(e for e in launch.events if e.get("event") == "run_started")
    commits = [e for e in launch.events if e.get("event") == "batch_written"]
    verdict = target.verify(folder, "calibration", expected, pipeline="chaos_calibration")
    assert verdict.ok, verdict.problems
    seconds = (logged_at(commits[-1]) - logged_at(started)).total_seconds()
    return Profile(batches=int(commits[-1]["batch"]), seconds=max(seconds, 0.2))


def kill_once(
    launch: Launch, rng: random.Random, profile: Profile, *, last: int, strategy: str
) -> str:
    """Kill ``launch`` by ``strategy`` (even after its final commit); describe the plan."""
    fraction = rng.random()
    pause = rng.choice((0.0, rng.uniform(0, profile.seconds / profile.batches)))
    remaining = max(profile.batches - last, 1)
    if strategy == "timer":
        delay = fraction * profile.seconds * remaining / profile.batches
        if launch.wait_event("run_started") is not None:
            time.sleep(delay)
        launch.kill()
        return f"kill {delay:.3f}s after run_started"
    batch = last + 1 + int(fraction * max(profile.batches - 2 - last, 0))
    if launch.wait_batch(batch) is not None:
        time.sleep(pause)
    launch.kill()
    return f"kill {pause:.3f}s after batch_written {batch}"


def run_trial(
    target: Target,
    number: int,
    folder: Path,
    source: tuple[Path, Digests],
    profile: Profile,
) -> Trial:
    trial = Trial(kind=target.kind, number=number, seed=f"{BASE_SEED}-{target.kind}-{number}")
    rng = random.Random(trial.seed)  # noqa: S311 - reproducible chaos, not cryptography
    csv, expected = source
    name, table = f"chaos_{number:02d}", f"t{number:02d}"
    settings: dict[str, object] = {}
    if target.kind == "duckdb" and number % 2 == 0:
        settings["commit_min_rows"] = 0  # commit every batch, not once per row group
    pipeline = write_pipeline(target, folder, csv, name=name, table=table, **settings)
    trial.history.append(f"settings {settings or 'default'}")
    check_refusal = number % 10 == 0
    attempts = rng.choice((1, 1, 1, 2, 3))  # kills before the final resume
    last = 0
    flags: tuple[str, ...] = ()
    for attempt in range(attempts):
        strategy = "commit" if check_refusal and attempt == 0 else rng.choice(("timer", "commit"))
        launch = Launch(pipeline, *flags)
        plan = kill_once(launch, rng, profile, last=last, strategy=strategy)
        outcome = launch.finish()
        trial.history.append(f"{plan} -> {outcome.describe()}")
        if not outcome.killed:
            if outcome.returncode != 0:
                trial.problems.append(
                    f"run failed with exit {outcome.returncode}:\n{tail(outcome)}"
                )
                return trial
            break  # it ran to the end before the kill
        trial.kills += 1
        last = max(last, outcome.last_batch)
        stored = target.stored(folder, table, pipeline=name)
        trial.history.append(f"  after the kill: {stored.describe() if stored else 'nothing'}")
        if stored is not None and stored.count != stored.rows:
            trial.problems.append("the table's rows differ from its checkpoint's after a kill")
        if stored is not None and stored.finished and stored.rows != ROWS:
            trial.problems.append("a killed run left a finished checkpoint short of the source")
            return trial
        if check_refusal and not trial.refused and stored is not None and not stored.finished:
            plain = run_to_end(pipeline)
            trial.history.append(f"plain run -> exit {plain.returncode}")
            trial.refused += 1
            if plain.returncode != 2 or "--resume" not in plain.stderr:
                trial.problems.append(
                    "a plain run after the kill should refuse with exit 2 and name --resume, "
                    f"got exit {plain.returncode}:\n{tail(plain)}"
                )
                if plain.returncode == 0:
                    break
        flags = ("--resume",)
    else:
        final = run_to_end(pipeline, "--resume")
        trial.history.append(f"resume to the end -> {final.describe()}")
        if final.returncode != 0:
            trial.problems.append(f"final --resume exited {final.returncode}:\n{tail(final)}")
            return trial
    trial.problems.extend(target.verify(folder, table, expected, pipeline=name).problems)
    return trial


@pytest.mark.parametrize("kind", KINDS)
def test_kill_and_resume_loads_every_row_exactly_once(
    kind: str,
    make_target: Callable[[str], Target],
    source: tuple[Path, Digests],
    tmp_path: Path,
) -> None:
    target = make_target(kind)
    began = time.monotonic()
    profile = calibrate(target, tmp_path / "calibration", source)
    assert profile.batches >= 20, "the CSV should be read in many small batches"

    def one(number: int) -> Trial:
        return run_trial(target, number, tmp_path / f"trial{number:02d}", source, profile)

    with ThreadPoolExecutor(WORKERS) as pool:
        trials = list(pool.map(one, range(TRIALS)))
    failed = [t for t in trials if t.problems]
    print(  # shown with -s: what the trials did
        f"{kind}: {TRIALS} trials, {sum(t.kills for t in trials)} kills, "
        f"{sum(t.refused for t in trials)} refusals, {time.monotonic() - began:.1f}s, {profile}"
    )
    assert not failed, f"{len(failed)} of {TRIALS} {kind} trials failed:\n" + "\n".join(
        t.explain() for t in failed
    )
    assert sum(t.kills for t in trials) >= TRIALS, [t.history for t in trials]
    assert sum(t.refused for t in trials) >= 1, [t.history for t in trials]


def test_replace_killed_mid_load_keeps_the_old_rows_until_the_resume_swaps(
    source: tuple[Path, Digests], tmp_path: Path
) -> None:
    """DuckDB replace: after each kill the table still holds exactly the old rows; at the end
    exactly the new ones, and the stable staging table is gone."""
    target = DuckdbTarget()
    seed = f"{BASE_SEED}-duckdb-replace"
    rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not cryptography
    csv, expected = source
    old_ids = pa.array(range(1_000_000, 1_000_100), pa.int64())
    old = pa.table(
        {
            "id": old_ids,
            "name": pc.binary_join_element_wise("old-", pc.cast(old_ids, pa.string()), ""),
            "amount": pa.array([Decimal("1.25")] * 100, pa.decimal128(12, 2)),
            "day": pa.array([date(1999, 12, 31)] * 100, pa.date32()),
        }
    )
    pacsv.write_csv(old, tmp_path / "old.csv")
    settings = {"mode": "replace", "commit_min_rows": 0}
    old_csv = tmp_path / "old.csv"
    first = write_pipeline(target, tmp_path, old_csv, name="chaos_r", table="t", **settings)
    assert run_to_end(first).returncode == 0
    pipeline = write_pipeline(target, tmp_path, csv, name="chaos_r", table="t", **settings)
    history: list[str] = []
    flags: tuple[str, ...] = ()
    for _ in range(2):
        launch = Launch(pipeline, *flags)
        batch = rng.randint(3, 25)
        assert launch.wait_batch(batch) is not None, (seed, history, launch.lines[-5:])
        time.sleep(rng.choice((0.0, rng.uniform(0, 0.05))))
        launch.kill()
        outcome = launch.finish()
        history.append(outcome.describe())
        assert outcome.killed, (seed, history)
        ids = target.query(tmp_path, "SELECT min(id), max(id), count(*) FROM t")
        assert ids == [(1_000_000, 1_000_099, 100)], (seed, history, ids)
        flags = ("--resume",)
    final = run_to_end(pipeline, "--resume")
    assert final.returncode == 0, (seed, history, tail(final))
    assert json.loads(final.stdout.splitlines()[-1])["resumed_from"], "the staging was not kept"
    verdict = target.verify(tmp_path, "t", expected, pipeline="chaos_r")
    assert verdict.ok, (seed, history, verdict.problems)
    with target.connect(tmp_path) as con:
        assert "_tidegate_staging_t" not in target.tables(con)
