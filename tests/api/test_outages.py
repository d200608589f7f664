"""Store faults: PostgreSQL down means a clear 503 and recovery; Redis down means nothing fails."""

import asyncio
import itertools
import pickle
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from fastapi import FastAPI
from prometheus_client import REGISTRY
from redis.asyncio import ConnectionPool, Redis
from sqlalchemy.engine import make_url

from command_api.app import create_app
from command_api.wakeup import ProjectorWakeup
from settings import Settings
from tests.conftest import client_for, if_match, unique_email
from tests.support.logs import json_lines
from tests.support.tcp_proxy import TcpProxy

WRITE = "outage-write-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def postgres_proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    url = make_url(settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


def wakeup_failures() -> float:
    return REGISTRY.get_sample_value("projector_wakeup_failures_total") or 0.0


def proxied_settings(settings: Settings, proxy: TcpProxy) -> Settings:
    proxied = make_url(settings.database_url).set(host="127.0.0.1", port=proxy.port)
    return settings.model_copy(
        update={
            "database_url": proxied.render_as_string(hide_password=False),
            "write_tokens": frozenset({WRITE}),
            "db_timeout_seconds": 1.0,
        }
    )


async def test_postgres_outage_answers_503_and_the_service_recovers_by_itself(
    settings: Settings, postgres_proxy: TcpProxy
) -> None:
    app = create_app(proxied_settings(settings, postgres_proxy))
    retried = {"name": "Retried", "email": unique_email()}
    key = {"Idempotency-Key": f"outage-{uuid.uuid4().hex}"}
    async with app.router.lifespan_context(app), client_for(app, WRITE) as client:
        before = await client.post("/users", json={"name": "Before", "email": unique_email()})
        assert before.status_code == 201

        await postgres_proxy.cut()
        for _ in range(3):
            during = await client.post("/users", json={"name": "During", "email": unique_email()})
            assert during.status_code == 503
            assert during.headers["content-type"] == "application/problem+json"
            assert during.headers["retry-after"] == "1"
            assert during.json()["status"] == 503
        change = await client.patch(
            f"/users/{before.json()['id']}", json={"name": "Nope"}, headers=if_match(1)
        )
        assert change.status_code == 503
        # A fault is not an answer to remember: the key stays free for the retry below.
        assert (await client.post("/users", json=retried, headers=key)).status_code == 503
        assert (await client.get("/ready")).status_code == 503

        await postgres_proxy.restore()
        after = await client.post("/users", json={"name": "After", "email": unique_email()})
        assert after.status_code == 201, after.text
        assert (await client.get("/ready")).status_code == 200
        retry = await client.post("/users", json=retried, headers=key)
        assert retry.status_code == 201, retry.text
        assert "idempotent-replayed" not in retry.headers
        history = await client.get(
            f"/users/{before.json()['id']}/events", headers={"Authorization": f"Bearer {WRITE}"}
        )
        assert [e["data"]["name"] for e in history.json()["events"]] == ["Before"]


async def test_the_first_command_after_a_postgres_restart_succeeds(
    settings: Settings, postgres_proxy: TcpProxy
) -> None:
    """The pool holds connections that a restart has killed; none of them may reach a client."""
    app = create_app(proxied_settings(settings, postgres_proxy))
    async with app.router.lifespan_context(app), client_for(app, WRITE) as client:
        before = await client.post("/users", json={"name": "Before", "email": unique_email()})
        assert before.status_code == 201, before.text
        # A restart while the API is idle: every pooled connection dies, the server comes back.
        await postgres_proxy.cut()
        await postgres_proxy.restore()
        after = await client.post("/users", json={"name": "After", "email": unique_email()})
        assert after.status_code == 201, after.text


async def test_redis_down_never_fails_a_command_and_the_lost_wakeup_is_counted_and_logged(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(
        settings.model_copy(
            update={
                "redis_url": f"redis://127.0.0.1:{_free_port()}/0",
                "write_tokens": frozenset({WRITE}),
            }
        )
    )
    async with app.router.lifespan_context(app), client_for(app, WRITE) as client:
        failures = wakeup_failures()
        capsys.readouterr()
        created = await client.post(
            "/users",
            json={"name": "Ada", "email": unique_email()},
            headers={"X-Correlation-ID": "lost-wakeup-1"},
        )
        assert created.status_code == 201
        # Settled first: a commit made while a wake-up is on its way shares the next one.
        await app.state.wakeup.settled()
        ordered = await client.post(
            f"/users/{created.json()['id']}/orders",
            json={"product": "Tea", "quantity": 1, "unit_price": "2.00"},
            headers={"X-Correlation-ID": "lost-wakeup-2"},
        )
        assert ordered.status_code == 201
        await app.state.wakeup.settled()
        assert wakeup_failures() == failures + 2
        lost = [
            line
            for line in json_lines(capsys.readouterr().out)
            if line["event"] == "projector wake-up not sent"
        ]
        # One warning per lost wake-up, each tied to the request that committed.
        assert [(line["level"], line["correlation_id"]) for line in lost] == [
            ("warning", "lost-wakeup-1"),
            ("warning", "lost-wakeup-2"),
        ]
        assert all(line["error"] for line in lost)
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"postgres": "ok", "redis": "unavailable"}


@dataclass
class WakeupQueue:
    """A command API whose wake-ups go to a queue of the test's own, and that queue."""

    app: FastAPI
    client: httpx.AsyncClient
    redis: Redis
    queue: str

    async def enqueued_after_settling(self) -> int:
        await self.app.state.wakeup.settled()
        return int(await self.redis.zcard(self.queue))


@pytest.fixture
async def wakeups(settings: Settings) -> AsyncIterator[WakeupQueue]:
    queue = f"arq:test:{uuid.uuid4().hex}"
    app = create_app(
        settings.model_copy(update={"projector_queue": queue, "write_tokens": frozenset({WRITE})})
    )
    redis = Redis.from_url(settings.redis_url)
    try:
        async with app.router.lifespan_context(app), client_for(app, WRITE) as client:
            yield WakeupQueue(app, client, redis, queue)
    finally:
        await redis.delete(queue)
        await redis.aclose()


async def test_each_commit_enqueues_a_projector_wakeup(wakeups: WakeupQueue) -> None:
    refused = await wakeups.client.post("/users", json={"name": "", "email": "x"})
    assert refused.status_code == 422
    assert await wakeups.redis.zcard(wakeups.queue) == 0
    created = await wakeups.client.post("/users", json={"name": "Ada", "email": unique_email()})
    assert created.status_code == 201
    assert await wakeups.enqueued_after_settling() == 1


async def test_a_commit_made_while_a_wakeup_is_on_its_way_gets_one_after_it(
    wakeups: WakeupQueue,
) -> None:
    """Wake-ups share a sender: the second commit, made while Redis holds the first wake-up,
    must still be followed by a wake-up sent after it, or the projector would learn of it
    only from its cron job."""
    # Writes wait for 300 ms (under the 500 ms Redis timeout): the first wake-up is still on
    # its way when the second command commits.
    await wakeups.redis.client_pause(300, all=False)  # writes only
    try:
        for name in ("Ada", "Bob"):
            created = await wakeups.client.post(
                "/users", json={"name": name, "email": unique_email()}
            )
            assert created.status_code == 201
        assert await wakeups.redis.zcard(wakeups.queue) == 0, (
            "the pause did not hold the first wake-up"
        )
        assert await wakeups.enqueued_after_settling() == 2
    finally:
        await wakeups.redis.client_unpause()


async def test_wakeups_are_spaced_and_the_last_commit_still_gets_one_after_it(
    settings: Settings,
) -> None:
    """At most one wake-up per `spacing`: the commits within it share the next one, which is
    sent after the last of them."""
    queue = f"arq:test:{uuid.uuid4().hex}"
    arq = ArqRedis(ConnectionPool.from_url(settings.redis_url), default_queue_name=queue)
    wakeup = ProjectorWakeup(arq, spacing=0.2)
    try:
        started = time.time()
        for _ in range(25):  # a commit every 20 ms or so for half a second
            await wakeup.wake()
            last_commit = time.time()
            await asyncio.sleep(0.02)
        await wakeup.settled()
        took = time.time() - started
        # arq records the enqueue time in whole milliseconds, rounded down.
        sent = sorted(job.enqueue_time.timestamp() + 0.001 for job in await arq.queued_jobs())

        assert 3 <= len(sent) <= took / 0.2 + 1, f"{len(sent)} wake-ups in {took:.2f} s"
        assert all(b - a >= 0.19 for a, b in itertools.pairwise(sent)), sent
        assert sent[-1] >= last_commit, "the last commit was not followed by a wake-up"
    finally:
        await arq.delete(queue)
        await arq.aclose()


async def test_a_wakeup_that_fails_other_than_by_redis_is_counted_and_the_sender_goes_on(
    settings: Settings,
) -> None:
    """Guarantee 6 whatever the failure: a job that cannot even be serialized is a lost hint,
    counted like a Redis outage, and the wake-ups after it are still sent."""
    queue = f"arq:test:{uuid.uuid4().hex}"
    failing = {"yes": True}

    def serialize(job: dict[str, Any]) -> bytes:
        if failing["yes"]:
            raise ValueError("cannot serialize this job")
        return pickle.dumps(job)

    arq = ArqRedis(
        ConnectionPool.from_url(settings.redis_url),
        job_serializer=serialize,
        default_queue_name=queue,
    )
    wakeup = ProjectorWakeup(arq)
    failures = wakeup_failures()
    try:
        await wakeup.wake()
        await wakeup.settled()
        assert wakeup_failures() == failures + 1
        assert await arq.zcard(queue) == 0

        failing["yes"] = False
        await wakeup.wake()
        await wakeup.settled()
        assert await arq.zcard(queue) == 1
    finally:
        await arq.delete(queue)
        await arq.aclose()
