"""Guarantee 6 under load: PostgreSQL goes away for ~2 s while clients write and the projector
(a real process) follows. Commands answer 503 problem+json during the cut, never a 500; every
command acknowledged with a 2xx is in the event store; the command API and the projector recover
by themselves, and the projection ends equal to a replay of the events."""

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from eventstore.database import create_engine, create_sessions
from eventstore.position import Position
from eventstore.tables import EventRow
from settings import Settings
from tests.conftest import ANY_VERSION, unique_email
from tests.projector.conftest import build_stack, stack_settings
from tests.projector.replay import expected_documents, shown
from tests.projector.test_crashes import all_documents
from tests.support.databases import migrated_database
from tests.support.mongo import MongoServer
from tests.support.projector_process import ProjectorProcess
from tests.support.tcp_proxy import TcpProxy

CUT_SECONDS = 2.0
CLIENTS = 6


@dataclass(frozen=True)
class Acknowledged:
    stream_id: UUID
    version: int
    position: Position


@dataclass
class Load:
    acknowledged: list[Acknowledged] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    refusals: list[httpx.Response] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)


@pytest.fixture
def restart_database() -> Iterator[str]:
    with migrated_database("es_pgr") as url:
        yield url


@pytest.fixture
async def postgres_proxy(restart_database: str) -> AsyncIterator[TcpProxy]:
    url = make_url(restart_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


async def _command(writer: httpx.AsyncClient, load: Load, rng: random.Random) -> httpx.Response:
    roll = rng.random()
    if roll < 0.3 or not load.users:
        response = await writer.post("/users", json={"name": "Load", "email": unique_email()})
        if response.status_code == 201:
            load.users.append(response.json()["id"])
        return response
    if roll < 0.6 or not load.orders:
        response = await writer.post(
            f"/users/{rng.choice(load.users)}/orders",
            json={"product": "Widget", "quantity": rng.randint(1, 9), "unit_price": "2.50"},
        )
        if response.status_code == 201:
            load.orders.append(response.json()["id"])
        return response
    if roll < 0.8:
        return await writer.patch(
            f"/users/{rng.choice(load.users)}",
            json={"name": f"Renamed {rng.randint(1, 99)}"},
            headers=ANY_VERSION,
        )
    return await writer.patch(
        f"/orders/{rng.choice(load.orders)}",
        json={"quantity": rng.randint(1, 9)},
        headers=ANY_VERSION,
    )


async def _client(writer: httpx.AsyncClient, load: Load, seed: int, stop: asyncio.Event) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        response = await _command(writer, load, rng)
        load.statuses[response.status_code] = load.statuses.get(response.status_code, 0) + 1
        if response.is_success:
            body = response.json()
            load.acknowledged.append(
                Acknowledged(UUID(body["id"]), body["version"], Position.parse(body["position"]))
            )
        else:
            load.refusals.append(response)
            await asyncio.sleep(0.05)


async def test_postgres_restart_under_load_loses_no_acknowledged_command_and_heals_itself(
    restart_database: str,
    postgres_proxy: TcpProxy,
    mongo_server: MongoServer,
    settings: Settings,
) -> None:
    direct = stack_settings(restart_database, mongo_server, settings)
    proxied_url = make_url(restart_database).set(host="127.0.0.1", port=postgres_proxy.port)
    proxied = direct.model_copy(
        update={
            "database_url": proxied_url.render_as_string(hide_password=False),
            "db_timeout_seconds": 1.0,
            "projector_batch_size": 20,
        }
    )
    # The test's own checks read PostgreSQL directly, never through the proxy.
    engine = create_engine(direct, application_name="restart-test")
    sessions = create_sessions(engine)
    projector = ProjectorProcess(proxied)
    load = Load()
    stop = asyncio.Event()
    try:
        async with build_stack(proxied) as stack:
            projector.start()
            clients = [
                asyncio.create_task(_client(stack.writer, load, seed, stop))
                for seed in range(CLIENTS)
            ]
            await asyncio.sleep(1.5)
            before_cut = len(load.acknowledged)
            await postgres_proxy.cut()
            await asyncio.sleep(CUT_SECONDS)
            during_cut = load.statuses.get(503, 0)
            await postgres_proxy.restore()
            acknowledged_at_restore = len(load.acknowledged)
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*clients)

            assert before_cut > 0, "the workload never got going"
            assert during_cut > 0, f"no command noticed the outage: {load.statuses}"
            assert len(load.acknowledged) > acknowledged_at_restore, (
                f"the command API did not recover by itself: {load.statuses}"
            )
            # During the cut: 503 problem+json with Retry-After; never a 500, nothing else.
            assert set(load.statuses) <= {200, 201, 503}, load.statuses
            for refused in load.refusals:
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["status"] == 503
                assert refused.headers["retry-after"]

            # No acknowledged command lost: its stream version and its last event are stored.
            async with sessions() as session:
                rows = await session.execute(
                    select(
                        EventRow.stream_id,
                        EventRow.version,
                        EventRow.transaction_id,
                        EventRow.position,
                    )
                )
                stored = [tuple(row) for row in rows]
            versions = {(stream_id, version) for stream_id, version, _, _ in stored}
            positions = {(txid, position) for _, _, txid, position in stored}
            lost = [
                ack
                for ack in load.acknowledged
                if (ack.stream_id, ack.version) not in versions
                or (ack.position.transaction_id, ack.position.position) not in positions
            ]
            assert not lost, f"{len(lost)} acknowledged commands are not in the event store"

            # The projector process was never restarted: it catches up by itself.
            expected = await expected_documents(sessions)
            deadline = asyncio.get_running_loop().time() + 20.0
            while shown(*await all_documents(stack)) != expected:
                assert asyncio.get_running_loop().time() < deadline, (
                    "the projection never caught up after PostgreSQL came back"
                )
                await asyncio.sleep(0.25)
    finally:
        stop.set()
        projector.stop()
        await engine.dispose()
