"""Waiting until the read documents equal a replay of the event store, judged from outside."""

import asyncio
from typing import Any

from tests.projector.conftest import Stack
from tests.projector.replay import expected_documents, shown


async def all_documents(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        await stack.db.users.find().sort("_id").to_list(),
        await stack.db.orders.find().sort("_id").to_list(),
    )


async def wait_until_replayed(stack: Stack, within: float) -> float:
    """Seconds until the documents equal the replay; fails after `within`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    expected = await expected_documents(stack.sessions)
    while shown(*await all_documents(stack)) != expected:
        assert loop.time() - started < within, f"documents differ from the replay after {within}s"
        await asyncio.sleep(0.1)
    return loop.time() - started
