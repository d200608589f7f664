"""Convergence: under a concurrent random workload, with the projector following live, every
read document ends equal to the fold of its stream's events."""

import asyncio

from projector.catch_up import catch_up
from projector.storage import read_status
from readmodel.documents import ProjectionState
from tests.projector import workload
from tests.projector.conftest import Stack, settle
from tests.projector.replay import expected_documents, shown


async def test_documents_converge_to_the_events_under_concurrent_commands(
    stack: Stack, full_size: bool
) -> None:
    clients, commands_each = (16, 250) if full_size else (16, 100)
    done = asyncio.Event()

    async def follow() -> None:
        while not done.is_set():
            await catch_up(stack.projection)
            await asyncio.sleep(0.01)

    following = asyncio.create_task(follow())
    shared = await workload.run(stack.writer, clients, commands_each)
    done.set()
    await following
    await settle(stack.projection)

    status = await read_status(stack.db, "main")
    assert status.state is ProjectionState.RUNNING, status.error
    assert sum(shared.statuses.values()) == clients * commands_each
    assert shared.statuses.get(201, 0) > clients * commands_each // 4
    users = await stack.db.users.find().to_list()
    orders = await stack.db.orders.find().to_list()
    expected_users, expected_orders = await expected_documents(stack.sessions)
    actual_users, actual_orders = shown(users, orders)
    assert len(actual_users) == len(expected_users) > 100
    assert actual_users == expected_users
    assert actual_orders == expected_orders
