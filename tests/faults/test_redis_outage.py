"""Guarantee 6 with Redis frozen: commands succeed, lost wake-ups are counted, and the
projector process catches up by its own schedule once Redis answers again.

`CLIENT PAUSE ... ALL` freezes every client of the server, so the pause is kept short and
always ends by its own timeout (a `CLIENT UNPAUSE` would itself wait for the pause to end).
"""

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.faults.documents import wait_until_replayed
from tests.projector import workload
from tests.projector.conftest import Stack
from tests.support.projector_process import ProjectorProcess

PAUSE_SECONDS = 3.0
CATCH_UP_SECONDS = 6.0


def wakeup_failures() -> float:
    return REGISTRY.get_sample_value("projector_wakeup_failures_total") or 0.0


@pytest.fixture
async def projector(stack: Stack) -> AsyncIterator[ProjectorProcess]:
    process = ProjectorProcess(stack.settings)
    process.start()
    yield process
    process.stop()


async def test_redis_paused_fails_no_command_and_the_projection_catches_up(
    stack: Stack, projector: ProjectorProcess, full_size: bool
) -> None:
    # Each command waits out the wake-up's Redis timeout (0.5 s): 4 in a row fit in the pause.
    clients, commands = (12, 4) if full_size else (4, 4)
    # The projector is up and following before Redis goes away.
    await workload.run(stack.writer, 2, 5)
    await wait_until_replayed(stack, within=20.0)

    loop = asyncio.get_running_loop()
    failures_before = wakeup_failures()
    redis = Redis.from_url(stack.settings.redis_url)
    await redis.execute_command("CLIENT", "PAUSE", int(PAUSE_SECONDS * 1000), "ALL")
    resumed_at = loop.time() + PAUSE_SECONDS
    try:
        shared = await workload.run(stack.writer, clients, commands)
        writes_ended = loop.time()
    finally:
        await asyncio.wait_for(redis.execute_command("CLIENT", "UNPAUSE"), PAUSE_SECONDS + 5)
        await redis.aclose()

    assert sum(shared.statuses.values()) == clients * commands, "every command answered"
    assert not [status for status in shared.statuses if status >= 500], shared.statuses
    assert writes_ended < resumed_at, "some commands ran after the pause: make it longer"
    failed = wakeup_failures() - failures_before
    assert failed > 0, "no wake-up failed: Redis was not paused while commands ran"
    # Whatever wake-ups are lost, the projector's cron job catches up once Redis answers.
    await wait_until_replayed(stack, within=PAUSE_SECONDS + CATCH_UP_SECONDS)
    late = loop.time() - resumed_at
    assert late < CATCH_UP_SECONDS
    failed = wakeup_failures() - failures_before  # wake-ups still in flight have ended now
    print(
        f"{clients * commands} commands during a {PAUSE_SECONDS}s pause: {shared.statuses}; "
        f"{failed:.0f} wake-ups failed; caught up {late:.1f}s after Redis came back"
    )
