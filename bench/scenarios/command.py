"""Scenario 2: `POST /users` and `POST /users/{id}/orders` over HTTP (wrk), the command API
against the baseline CRUD app on the same PostgreSQL, one after the other."""

from collections.abc import Sequence

from bench.context import Context
from bench.measure import Figure, latency_reading
from bench.services import Tokens, baseline, command_api, sign_up
from bench.wrk import run_wrk

SCENARIO = "command"
# Orders go to this many users, round-robin: few enough that users get many orders, enough
# that concurrent orders seldom queue for the same user's stream.
USERS_FOR_ORDERS = 128
ENDPOINTS = (("POST /users", "post_users"), ("POST /users/{id}/orders", "post_orders"))


async def measure_http(
    context: Context,
    scenario: str,
    subject: str,
    base_url: str,
    mode: str,
    *,
    token: str = "",
    ids: Sequence[str] = (),
) -> Figure:
    """Warm up, then one measured wrk run."""
    sizes = context.sizes
    connections = sizes.http_connections
    for seconds in (sizes.warmup_seconds, sizes.seconds):
        result = await run_wrk(
            base_url, mode, connections=connections, seconds=seconds, token=token, ids=ids
        )
    return context.results.add(
        Figure(
            scenario,
            subject,
            connections,
            operations=result.requests,
            seconds=result.seconds,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            max_ms=result.max_ms,
            errors=result.errors,
            unit="req",
        )
    )


async def run(context: Context) -> None:
    stores = context.stores
    tokens = Tokens.new()
    ours: dict[str, Figure] = {}
    theirs: dict[str, Figure] = {}
    settings = await stores.new_stack("command")
    async with command_api(stores, settings, tokens) as url:
        ids = await sign_up(url, USERS_FOR_ORDERS, tokens.write)
        for endpoint, mode in ENDPOINTS:
            ours[endpoint] = await measure_http(
                context, SCENARIO, f"command API {endpoint}", url, mode, token=tokens.write, ids=ids
            )
    async with baseline(stores, await stores.new_postgres_database("crud", migrated=False)) as url:
        ids = await sign_up(url, USERS_FOR_ORDERS)
        for endpoint, mode in ENDPOINTS:
            theirs[endpoint] = await measure_http(
                context, SCENARIO, f"baseline CRUD {endpoint}", url, mode, ids=ids
            )
    context.results.read(latency_reading(ours["POST /users"], "p99", 50.0, "at 32 connections"))
    for endpoint, _ in ENDPOINTS:
        target = 6.0 if endpoint == "POST /users" else None
        context.results.compare(
            f"{endpoint} / baseline CRUD", ours[endpoint], theirs[endpoint], target
        )
