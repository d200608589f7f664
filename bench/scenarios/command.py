"""Scenario 2: `POST /users` and `POST /users/{id}/orders` over HTTP (wrk), the command API
against the baseline CRUD app on the same PostgreSQL, both up at once and loaded in
alternating turns (`bench.turns`)."""

from bench.context import Context
from bench.measure import Figure, latency_reading
from bench.services import Tokens, baseline, command_api, sign_up
from bench.turns import measure_http
from bench.wrk import wrk_turn

SCENARIO = "command"
# Orders go to this many users, round-robin: few enough that users get many orders, enough
# that concurrent orders seldom queue for the same user's stream.
USERS_FOR_ORDERS = 128
ENDPOINTS = (("POST /users", "post_users"), ("POST /users/{id}/orders", "post_orders"))


async def run(context: Context) -> None:
    stores, connections = context.stores, context.sizes.http_connections
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
                    ours, mode, connections=connections, token=tokens.write, ids=our_ids
                ),
                f"baseline CRUD {endpoint}": wrk_turn(
                    theirs, mode, connections=connections, ids=their_ids
                ),
            }
            figures |= await measure_http(context, SCENARIO, subjects)
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
