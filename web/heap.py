"""Garbage collection tuned for a long-running API process.

CPython's cyclic collector traverses every tracked object of a generation on each of its
collections. After start-up a service holds over 100,000 long-lived objects (FastAPI's routes,
pydantic's schemas, the drivers), and with the default thresholds a busy API ran a full
collection over all of them several times a second: a tenth of its CPU under load (issue 6's
benchmark of the query API). Requests, meanwhile, allocate thousands of short-lived objects
that a larger young generation lets die before any collection looks at them.
"""

import gc

# Collect the young generation every 10,000 net allocations instead of 700, the older ones
# as often as before relative to it. Cycles are still found, a little later.
THRESHOLDS = (10_000, 10, 10)


def settle_heap() -> None:
    """Call once start-up is done: what exists then lives as long as the process, so the
    collector stops looking at it (`gc.freeze`), and young objects get room to die."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
