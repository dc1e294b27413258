"""Read one batch ahead on a background thread, so parsing overlaps writing.

pyarrow's readers and database drivers release the GIL while they work, so reading batch n+1
while the destination stores batch n roughly hides the cheaper of the two. At most ``depth``
batches wait in the queue, so memory stays bounded by the batch size.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["read_ahead"]

T = TypeVar("T")

_POLL_SECONDS = 0.05


def read_ahead(items: Iterator[T], *, depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order while a thread fetches up to ``depth`` of them in advance.

    An exception raised by ``items`` is re-raised here, in order; closing this generator
    (a failed run) stops the thread and closes ``items`` on it.
    """
    slots: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                slots.put((kind, value), timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer("item", item):
                    return
            offer("done", None)
        except BaseException as exc:  # handed to the consumer, which raises it in order
            offer("error", exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(produce,), name="tidegate-read-ahead"
    )
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "item":
                yield cast("T", value)
            elif kind == "error":
                raise cast("BaseException", value)
            else:
                return
    finally:
        stop.set()
        worker.join()
