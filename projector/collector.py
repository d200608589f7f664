"""The garbage collector, run less often while a bulk job allocates heavily."""

import gc
from types import TracebackType


class FewerCollections:
    """While held, the collector's youngest threshold (allocations between two runs of the
    youngest generation) is at least `youngest`; put back when the last holder lets go.

    Process-wide, as the collector has no narrower scope: holders that overlap (two jobs in
    one worker) share one raised setting, and the first one's saved setting is restored.
    """

    def __init__(self, youngest: int) -> None:
        self.youngest = youngest
        self.holders = 0
        self.saved = gc.get_threshold()

    def __enter__(self) -> None:
        if self.holders == 0:
            self.saved = gc.get_threshold()
            gc.set_threshold(max(self.youngest, self.saved[0]), *self.saved[1:])
        self.holders += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.holders -= 1
        if self.holders == 0:
            gc.set_threshold(*self.saved)
