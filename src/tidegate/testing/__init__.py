"""Shipped test doubles, one per protocol, for testing pipelines and plugins without I/O.

``MemorySource`` yields given batches, ``MemoryDestination`` keeps what was committed,
``RecordingListener`` records events, ``FlakySource`` fails after a number of batches;
``quarantine_rows`` builds rejected rows the way a ``Quarantines`` destination receives them.
"""

from tidegate.testing.doubles import (
    FlakySource,
    MemoryDestination,
    MemorySource,
    RecordingListener,
    quarantine_rows,
)

__all__ = [
    "FlakySource",
    "MemoryDestination",
    "MemorySource",
    "RecordingListener",
    "quarantine_rows",
]
