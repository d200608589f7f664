import asyncio

import pytest

from web.tasks import stop


async def test_the_task_is_cancelled_and_has_ended_when_stop_returns() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    assert await stop(task) is None
    assert task.cancelled()


async def test_what_a_task_failed_with_is_returned_not_raised() -> None:
    async def fail() -> None:
        raise RuntimeError("the heartbeat lost Redis")

    task = asyncio.create_task(fail())
    await asyncio.sleep(0)
    failure = await stop(task)
    assert isinstance(failure, RuntimeError)


async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    """The caller is cancelled while the task it stops is still cleaning up."""
    cleaning_up = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cleaning_up.set()
            await asyncio.Event().wait()  # until cancelled again

    helper = asyncio.create_task(slow_to_stop())

    async def caller() -> str:
        await asyncio.sleep(0)
        await stop(helper)
        return "carried on"

    running = asyncio.create_task(caller())
    await cleaning_up.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert helper.done()
