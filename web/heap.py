"""Garbage collection tuned for long-running processes and their bulk work.

CPython's cyclic collector traverses every tracked object of a generation on each of its
collections. After start-up a service holds over 100,000 long-lived objects (FastAPI's routes,
pydantic's schemas, the drivers), and with the default thresholds a busy API ran a full
collection over all of them several times a second: a tenth of its CPU under load (issue 6's
benchmark of the query API). Requests, meanwhile, allocate thousands of short-lived objects
that a larger young generation lets die before any collection looks at them.
"""

import gc
from types import TracebackType

# Collect the young generation every 10,000 net allocations instead of 700, the older ones
# as often as before relative to it. Cycles are still found, a little later.
THRESHOLDS = (10_000, 10, 10)


def settle_heap() -> None:
    """Call once start-up is done: what exists then lives as long as the process, so the
    collector stops looking at it (`gc.freeze`), and young objects get room to die."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


class FewerCollections:
    """While held, the young generation's threshold is at least `THRESHOLDS`'s, in whatever
    process the work runs (a command-line tool, a test, a benchmark, not only a service that
    settled its heap); put back as it was when the last holder lets go.

    For bulk work that keeps what it allocates for a while, like a rebuild's replay: at the
    default threshold the collector ran every few events, and each run promoted the chunk's
    documents and soon rescanned the older generations. Process-wide, as the collector has no
    narrower scope, so holders that overlap share one raised setting.
    """

    def __init__(self) -> None:
        self.holders = 0
        # Set when the first holder comes: the setting found, and the one put in its place.
        self.saved: tuple[int, ...] = ()
        self.raised: tuple[int, ...] = ()

    def __enter__(self) -> None:
        if self.holders == 0:
            self.saved = gc.get_threshold()
            self.raised = (max(THRESHOLDS[0], self.saved[0]), *self.saved[1:])
            gc.set_threshold(*self.raised)
        self.holders += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.holders -= 1
        # Unless someone set it since (a service settling its heap meanwhile): theirs stands.
        if self.holders == 0 and gc.get_threshold() == self.raised:
            gc.set_threshold(*self.saved)


fewer_collections = FewerCollections()
