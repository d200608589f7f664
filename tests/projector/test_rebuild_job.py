"""A rebuild asked for over the admin API runs in the projector as an arq job (guarantee 7)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from sqlalchemy import text

from projector import REBUILD_JOB
from projector.coordination import lock_key, pending_key
from projector.worker import rebuild_job, worker_settings
from readmodel.collections import ReadCollections
from tests.conftest import ADMIN_TOKEN
from tests.projector import workload
from tests.projector.conftest import Stack, settle

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def queue(stack: Stack) -> AsyncIterator[ArqRedis]:
    """The stack's projector queue; emptied, jobs and locks too, afterwards."""
    name = stack.settings.projector_queue
    redis: ArqRedis = await create_pool(
        RedisSettings.from_dsn(stack.settings.redis_url), default_queue_name=name
    )
    yield redis
    jobs = [job_id.decode() for job_id in await redis.zrange(name, 0, -1)]
    await redis.delete(name, *(f"arq:job:{job_id}" for job_id in jobs))
    await redis.delete(pending_key(stack.projection.scope), lock_key(stack.projection.scope))
    await redis.aclose()


async def documents(stack: Stack, names: ReadCollections) -> list[list[dict[str, Any]]]:
    return [
        await stack.db[names.users].find().sort("_id").to_list(),
        await stack.db[names.orders].find().sort("_id").to_list(),
    ]


async def run_worker(stack: Stack) -> Worker:
    """The projector's own worker, until its queue is empty."""
    options = {**worker_settings(stack.settings), "handle_signals": False, "poll_delay": 0.05}
    worker = Worker(**options, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


async def test_a_rebuild_asked_for_over_http_runs_in_the_projector_and_changes_no_document(
    stack: Stack, queue: ArqRedis
) -> None:
    await workload.run(stack.writer, 3, 15)
    await settle(stack.projection)
    before = await documents(stack, ReadCollections())
    shown = await stack.writer.get("/admin/projections/main", headers=ADMIN)
    assert shown.status_code == 200, shown.text
    assert shown.json()["lag_events"] == 0
    assert (shown.json()["generation"], shown.json()["rebuild"]) == (0, None)

    asked = await stack.writer.post(
        "/admin/projections/main/rebuild", json={"keep_old": True}, headers=ADMIN
    )
    assert asked.status_code == 202, asked.text
    [job] = [job for job in await queue.queued_jobs() if job.function == REBUILD_JOB]
    assert job.job_id == asked.json()["job_id"]
    worker = await run_worker(stack)

    assert (worker.jobs_failed, worker.jobs_retried) == (0, 0)
    after = await stack.writer.get(asked.headers["location"], headers=ADMIN)
    assert after.status_code == 200, after.text
    main = after.json()
    assert (main["state"], main["generation"]) == ("running", 1)
    assert main["collections"] == {"users": "users_1", "orders": "orders_1"}
    assert main["lag_events"] == 0
    rebuild = main["rebuild"]
    assert (rebuild["phase"], rebuild["generation"]) == ("done", 1)
    assert rebuild["events_applied"] == rebuild["events_total"] == main["events_applied"]
    assert rebuild["finished_at"] is not None
    assert await documents(stack, ReadCollections("users_1", "orders_1")) == before
    assert await documents(stack, ReadCollections()) == before, "kept, as asked"
    # Done, the job no longer holds its id: the next rebuild may be queued.
    again = await stack.writer.post("/admin/projections/main/rebuild", headers=ADMIN)
    assert again.status_code == 202, again.text


async def test_a_rebuild_that_cannot_switch_is_reported_not_raised(
    stack: Stack, queue: ArqRedis
) -> None:
    await workload.run(stack.writer, 2, 10)
    await settle(stack.projection)
    before = await documents(stack, ReadCollections())
    # Damaged by hand, as no command could, after the live projection applied it: the replay
    # cannot apply it, so the rebuild must refuse to switch.
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE events SET data = '{}'::jsonb WHERE event_type = 'UserRegistered'")
        )
    ctx = {"redis": queue, "projection": stack.projection, "settings": stack.settings}

    summary = await rebuild_job(ctx, "main", from_scratch=True)

    assert summary.startswith("rebuild of main failed: the replay stopped at")
    shown = await stack.writer.get("/admin/projections/main", headers=ADMIN)
    main = shown.json()
    assert (main["state"], main["generation"]) == ("running", 0)
    assert main["rebuild"]["phase"] == "failed"
    assert "UserRegistered" in main["rebuild"]["message"]
    assert await documents(stack, ReadCollections()) == before
