import asyncio

import pytest

from projector.tasks import stop


async def test_the_task_is_cancelled_and_has_ended_when_stop_returns() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    await stop(task)
    assert task.cancelled()


async def test_a_task_that_failed_is_stopped_without_raising() -> None:
    async def fail() -> None:
        raise RuntimeError("the write failed")

    task = asyncio.create_task(fail())
    await asyncio.sleep(0)
    await stop(task)
    assert isinstance(task.exception(), RuntimeError)


async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    """The caller is cancelled while the task it stops takes its time to end."""

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.2)  # its clean-up, during which the caller is cancelled

    helper = asyncio.create_task(slow_to_stop())

    async def caller() -> str:
        await asyncio.sleep(0)
        await stop(helper)
        return "carried on"

    running = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.gather(helper, return_exceptions=True)
