"""The arq side: one catch-up per projection at a time, across concurrent wake-ups."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from eventstore import feed_lag
from projector.coordination import lock_key, pending_key
from projector.storage import checkpoint_of, read_status
from projector.worker import catch_up_job
from tests.projector import workload
from tests.projector.conftest import Stack


@pytest.fixture
async def job_context(stack: Stack) -> AsyncIterator[dict[str, Any]]:
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(stack.settings.redis_url))
    yield {"redis": redis, "projection": stack.projection, "settings": stack.settings}
    await redis.delete(pending_key(stack.projection.scope), lock_key(stack.projection.scope))
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
