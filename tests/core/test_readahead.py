"""Reading ahead keeps order, re-raises the source's error, and stops cleanly when abandoned."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from tidegate.core.readahead import read_ahead
from tidegate.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterator


def test_items_arrive_in_order() -> None:
    assert list(read_ahead(iter(range(100)))) == list(range(100))


def test_the_source_error_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise DataError("bad line", location="x.csv line 3")

    seen: list[int] = []
    with pytest.raises(DataError, match="bad line"):
        seen.extend(read_ahead(source()))
    assert seen == [1, 2]


def test_abandoning_the_reader_closes_the_source_and_its_thread() -> None:
    closed = threading.Event()
    threads = threading.active_count()

    def source() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed.set()

    reader = read_ahead(source())
    assert next(reader) == 0
    reader.close()

    assert closed.is_set()
    assert threading.active_count() == threads


def test_the_source_runs_on_another_thread_while_the_consumer_works() -> None:
    started = threading.Event()
    release = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        started.set()  # reached only if batch 2 is fetched while the consumer holds batch 1
        release.wait(5)
        yield 2

    reader = read_ahead(source())
    assert next(reader) == 1
    assert started.wait(5)
    release.set()
    assert list(reader) == [2]
