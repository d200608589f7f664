"""Scenario 5: freshness at a steady command rate, with the whole system running as in
production: command API, projector and query API, each a process of its own.

Commands (`POST /users`) are sent on a fixed schedule (open loop: a slow answer does not
slow the rate). After each answer, a read of the new user with `Min-Position` set to the
command's `Event-Position`: the query API answers once the projection has applied it. The
figure is the time from the command's answer to that read's answer (it includes the read's
own round trip); a read that gives up (503 after the query API's bounded wait) is an error.
"""

import asyncio
import time

from bench.context import Context
from bench.http import Client
from bench.measure import latency_figure, latency_reading
from bench.services import Tokens, command_api, projector, query_api

SCENARIO = "freshness"
# The targets at 300 commands/s.
FRESH_P50_AT_MOST_MS, FRESH_P99_AT_MOST_MS = 50.0, 250.0


async def run(context: Context) -> None:
    stores, sizes, results = context.stores, context.sizes, context.results
    tokens = Tokens.new()
    settings = await stores.new_stack("fresh")
    async with (
        command_api(stores, settings, tokens) as commands,
        query_api(stores, settings, tokens) as queries,
        projector(stores, settings, tokens),
    ):
        writer = Client(commands, _bearer(tokens.write))
        reader = Client(queries, _bearer(tokens.read))
        try:
            steady = _Steady(writer, reader)
            await steady.run(sizes.freshness_rate, sizes.warmup_seconds)
            steady = _Steady(writer, reader)
            seconds = await steady.run(sizes.freshness_rate, sizes.freshness_seconds)
        finally:
            await writer.aclose()
            await reader.aclose()
    note = f"offered {sizes.freshness_rate:g} POST /users/s (open loop); throughput = completed/s"
    freshness = results.add(
        latency_figure(
            SCENARIO,
            "command answered → visible in query API",
            1,
            steady.freshness_ms,
            seconds,
            errors=steady.errors,
            unit="commands",
            note=note,
        )
    )
    results.add(
        latency_figure(
            SCENARIO,
            "command latency at that rate",
            1,
            steady.command_ms,
            seconds,
            errors=steady.errors,
            unit="commands",
            note=note,
        )
    )
    at = f"at {sizes.freshness_rate:g} commands/s"
    results.read(latency_reading(freshness, "p50", FRESH_P50_AT_MOST_MS, at))
    results.read(latency_reading(freshness, "p99", FRESH_P99_AT_MOST_MS, at))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _Steady:
    def __init__(self, writer: Client, reader: Client) -> None:
        self.writer = writer
        self.reader = reader
        self.freshness_ms: list[float] = []
        self.command_ms: list[float] = []
        self.errors = 0

    async def run(self, rate: float, seconds: float) -> float:
        """Send `rate` commands a second for `seconds`; returns how long until all were seen."""
        count = max(1, round(rate * seconds))
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for n in range(count):
                await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
                group.create_task(self._one(n))
        return time.perf_counter() - started

    async def _one(self, n: int) -> None:
        sent = time.perf_counter()
        body = {"name": f"Fresh {n}", "email": f"fresh-{n}-{time.time_ns()}@example.com"}
        try:
            command = await self.writer.request("POST", "/users", json_body=body)
            answered = time.perf_counter()
            if command.status != 201:
                self.errors += 1
                return
            read = await self.reader.request(
                "GET",
                f"/users/{command.json()['id']}",
                headers={"Min-Position": command.headers["event-position"]},
            )
            seen = time.perf_counter()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.errors += 1
            return
        if read.status != 200:
            self.errors += 1
            return
        self.command_ms.append((answered - sent) * 1000)
        self.freshness_ms.append((seen - answered) * 1000)
