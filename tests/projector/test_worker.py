"""The arq side: one catch-up per projection at a time, across concurrent wake-ups."""

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from eventstore import feed_lag
from projector import catch_up as catch_up_module
from projector import worker
from projector.__main__ import event_loop
from projector.catch_up import catch_up_with_retries
from projector.coordination import lock_key, pause_key, pending_key
from projector.storage import checkpoint_of, read_status, record_lag
from projector.worker import catch_up_job
from tests.conftest import unique_email
from tests.projector import workload
from tests.projector.conftest import Stack, until_visible
from web.tasks import stop


@pytest.fixture
async def job_context(stack: Stack) -> AsyncIterator[dict[str, Any]]:
    # As the worker's own: jobs it enqueues go to the projector's queue.
    queue = stack.settings.projector_queue
    redis: ArqRedis = await create_pool(
        RedisSettings.from_dsn(stack.settings.redis_url), default_queue_name=queue
    )
    yield {"redis": redis, "projection": stack.projection, "settings": stack.settings}
    scope = stack.projection.scope
    await redis.delete(pending_key(scope), lock_key(scope), pause_key(scope), queue)
    await redis.aclose()


async def test_concurrent_wakeups_apply_each_event_once(
    stack: Stack, job_context: dict[str, Any]
) -> None:
    await workload.run(stack.writer, 4, 40)
    async with stack.sessions() as session:
        total, _ = await feed_lag(session, checkpoint_of(await read_status(stack.db, "main")))

    applied = await asyncio.gather(*(catch_up_job(job_context) for _ in range(6)))

    assert sum(applied) == total, "an event was applied by two catch-ups, or by none"
    assert sorted(applied)[:-1] == [0] * 5, "only one job may hold the projection"
    status = await read_status(stack.db, "main")
    assert status.events_applied == total


async def test_a_catch_up_steps_aside_while_a_rebuild_switches_and_runs_after(
    stack: Stack, job_context: dict[str, Any]
) -> None:
    await workload.run(stack.writer, 2, 10)
    redis: ArqRedis = job_context["redis"]
    scope = stack.projection.scope
    await redis.set(pause_key(scope), 1, px=30_000)

    assert await catch_up_job(job_context) == 0, "a paused projection must not move"
    assert await redis.exists(pending_key(scope)), "the wake-up is kept for later"
    assert (await read_status(stack.db, "main")).events_applied == 0

    await redis.delete(pause_key(scope))
    assert await catch_up_job(job_context) > 0


async def test_a_catch_up_hands_over_after_its_budget_while_wake_ups_keep_coming(
    stack: Stack, job_context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under a steady stream of commits the pending mark is set again during every catch-up:
    # the holder must still let go in time, not stay until arq's job timeout cancels it.
    monkeypatch.setattr(worker, "RUN_BUDGET_SECONDS", 0.5)
    await workload.run(stack.writer, 2, 10)
    async with stack.sessions() as session:
        total, _ = await feed_lag(session, checkpoint_of(await read_status(stack.db, "main")))
    redis: ArqRedis = job_context["redis"]
    scope = stack.projection.scope

    async def wake_ups() -> None:
        while True:
            await redis.set(pending_key(scope), 1)
            await asyncio.sleep(0.001)

    await asyncio.sleep(0.1)  # past the writers' own wake-ups, which go to the same queue
    started = datetime.now(UTC)
    waking = asyncio.create_task(wake_ups())
    try:
        applied = await asyncio.wait_for(catch_up_job(job_context), timeout=10)
    finally:
        failed = await stop(waking)
    assert failed is None

    assert applied == total
    assert not await redis.exists(lock_key(scope)), "the lock is let go"
    handed_to = [job for job in await redis.queued_jobs() if job.enqueue_time >= started]
    assert len(handed_to) == 1, "a job of its own goes on"


async def test_a_catch_up_goes_on_while_the_feed_keeps_giving_events(
    stack: Stack, job_context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commits keep coming, but send no wake-ups: the holder is told once, as it starts, and
    # must still follow the stream, not stop at what was there when it began.
    passes = 0

    async def commit_then_catch_up(*args: Any, **kwargs: Any) -> int:
        nonlocal passes
        passes += 1
        if passes <= 3:
            response = await stack.writer.post(
                "/users", json={"name": "Ada", "email": unique_email()}
            )
            assert response.status_code == 201
            await until_visible(stack, 1)
        return await catch_up_with_retries(*args, **kwargs)

    reports = 0

    async def counted_report(*args: Any, **kwargs: Any) -> dict[str, Any]:
        nonlocal reports
        reports += 1
        return await record_lag(*args, **kwargs)

    monkeypatch.setattr(worker, "catch_up_with_retries", commit_then_catch_up)
    monkeypatch.setattr(catch_up_module, "record_lag", counted_report)
    applied = await catch_up_job(job_context)

    assert (passes, applied) == (4, 3), "three passes that found an event, one that found none"
    # The lag is reported at most once a second while events stream in, and the pass that
    # ends the stream adds no report of its own (two queries and a write).
    assert reports == 1


async def test_the_held_lock_is_renewed_once_a_fifth_of_its_time_has_gone_by(
    stack: Stack, job_context: dict[str, Any]
) -> None:
    redis: ArqRedis = job_context["redis"]
    key = lock_key(stack.projection.scope)
    guard = redis.lock(key, timeout=1.0)
    assert await guard.acquire(blocking=False)
    renewal = worker.LockRenewal(guard, 1.0)

    await asyncio.sleep(0.1)
    for _ in range(20):  # the batches of a busy stream, within the first fifth
        await renewal()
    assert await redis.pttl(key) < 950, "renewed before a fifth of its time had gone by"

    await asyncio.sleep(0.15)
    await renewal()
    assert await redis.pttl(key) > 950, "a fifth of its time gone by, and not renewed"
    await guard.release()


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
def test_the_projector_runs_on_uvloops_loop() -> None:
    import uvloop

    loop = event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


async def test_a_holder_whose_lock_lapsed_stops_before_its_next_pass(
    stack: Stack, job_context: dict[str, Any]
) -> None:
    redis: ArqRedis = job_context["redis"]
    scope = stack.projection.scope
    await workload.run(stack.writer, 2, 5)
    await redis.set(pending_key(scope), 1)
    guard = redis.lock(lock_key(scope), timeout=0.2)
    assert await guard.acquire(blocking=False)
    renewal = worker.LockRenewal(guard, 0.2)
    await asyncio.sleep(0.3)  # the lock lapses (a stalled holder): another may have it by now

    deadline = asyncio.get_running_loop().time() + 60
    applied = await worker._hold(stack.projection, redis, renewal, deadline)

    assert applied == 0, "a pass ran on a lapsed lock"
    assert (await read_status(stack.db, "main")).events_applied == 0
