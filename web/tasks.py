"""Stopping a helper task from the task that started it: a service's background work at
shutdown, a projector's heartbeat or writer."""

import asyncio
from typing import Any


async def stop(task: "asyncio.Task[Any]") -> BaseException | None:
    """Cancel `task` and wait until it has ended, however it ends; what it failed with, if
    it failed other than by being cancelled.

    Not `task.cancel()`, then `await task` under `suppress(CancelledError)`: that also
    swallows a cancellation of the caller that arrives meanwhile (a worker shutting down, a
    timeout running out), and the caller carries on as if never asked to stop. `gather`
    takes the task's outcome as a value and lets the caller's own cancellation through.
    """
    task.cancel()
    outcome: object = (await asyncio.gather(task, return_exceptions=True))[0]
    if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
        return outcome
    return None
