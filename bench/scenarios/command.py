"""Scenario 2: `POST /users` and `POST /users/{id}/orders` over HTTP (wrk), the command API
against the baseline CRUD app on the same PostgreSQL, both up at once and loaded in
alternating turns (`bench.turns`)."""

from collections.abc import Mapping, Sequence

from bench.context import Context
from bench.measure import Figure, latency_reading
from bench.services import Tokens, baseline, command_api, sign_up
from bench.turns import Sample, Turn, alternate
from bench.wrk import run_wrk

SCENARIO = "command"
# Orders go to this many users, round-robin: few enough that users get many orders, enough
# that concurrent orders seldom queue for the same user's stream.
USERS_FOR_ORDERS = 128
ENDPOINTS = (("POST /users", "post_users"), ("POST /users/{id}/orders", "post_orders"))


def wrk_turn(
    context: Context, base_url: str, mode: str, *, token: str = "", ids: Sequence[str] = ()
) -> Turn:
    """One turn of wrk against `base_url`, at the scenario's connections."""
    connections = context.sizes.http_connections

    async def turn(seconds: float) -> Sample:
        return await run_wrk(
            base_url, mode, connections=connections, seconds=seconds, token=token, ids=ids
        )

    return turn


async def measure_turns(
    context: Context, scenario: str, subjects: Mapping[str, Turn]
) -> dict[str, Figure]:
    """Each subject's figure, from turns that alternate between them."""
    sizes = context.sizes
    tallies = await alternate(
        subjects,
        turns=sizes.http_turns,
        turn_seconds=sizes.seconds,
        warmup_seconds=sizes.warmup_seconds,
        pause_seconds=sizes.turn_pause_seconds,
    )
    note = f"{sizes.http_turns} alternating turns of {sizes.seconds:g} s"
    return {
        name: context.results.add(
            tally.figure(scenario, name, sizes.http_connections, unit="req", note=note)
        )
        for name, tally in tallies.items()
    }


async def run(context: Context) -> None:
    stores = context.stores
    tokens = Tokens.new()
    settings = await stores.new_stack("command")
    crud = await stores.new_postgres_database("crud", migrated=False)
    figures: dict[str, Figure] = {}
    async with command_api(stores, settings, tokens) as ours, baseline(stores, crud) as theirs:
        our_ids = await sign_up(ours, USERS_FOR_ORDERS, tokens.write)
        their_ids = await sign_up(theirs, USERS_FOR_ORDERS)
        for endpoint, mode in ENDPOINTS:
            subjects = {
                f"command API {endpoint}": wrk_turn(
                    context, ours, mode, token=tokens.write, ids=our_ids
                ),
                f"baseline CRUD {endpoint}": wrk_turn(context, theirs, mode, ids=their_ids),
            }
            figures |= await measure_turns(context, SCENARIO, subjects)
    context.results.read(
        latency_reading(figures["command API POST /users"], "p99", 50.0, "at 32 connections")
    )
    for endpoint, _ in ENDPOINTS:
        context.results.compare(
            f"{endpoint} / baseline CRUD",
            figures[f"command API {endpoint}"],
            figures[f"baseline CRUD {endpoint}"],
            6.0 if endpoint == "POST /users" else None,
        )
