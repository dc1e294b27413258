"""A kill after the final commit, before the process exits, then ``--resume``: nothing twice.

The finishing commit is the last thing a run does to the data; closing, the summary and the
process exit come after it. A SIGKILL in that window looks to the operator exactly like any other
crash, and the documented reaction is ``tidegate run --resume``, which must then load nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.chaos.harness import Digests, Launch, Target, run_to_end
from tests.chaos.test_crash_resume import KINDS, tail, write_pipeline

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.mark.parametrize("kind", KINDS)
def test_resume_after_a_kill_past_the_final_commit_loads_nothing_twice(
    kind: str,
    make_target: Callable[[str], Target],
    source: tuple[Path, Digests],
    tmp_path: Path,
) -> None:
    target = make_target(kind)
    csv, expected = source
    pipeline = write_pipeline(target, tmp_path, csv, name="chaos_end", table="t_end")
    launch = Launch(pipeline)
    assert launch.wait_event("run_finished") is not None
    assert launch.kill(), "the run exited before the kill could land"
    outcome = launch.finish()
    assert outcome.killed
    stored = target.stored(tmp_path, "t_end", pipeline="chaos_end")
    assert stored is not None
    assert stored.finished
    assert stored.count == len(expected)
    resumed = run_to_end(pipeline, "--resume")
    assert resumed.returncode == 0, tail(resumed)
    verdict = target.verify(tmp_path, "t_end", expected, pipeline="chaos_end")
    assert verdict.ok, (stored.describe(), resumed.stdout, verdict.problems)
