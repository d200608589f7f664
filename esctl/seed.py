"""`esctl seed`: demo users and orders, loaded through the command API like any client's.

Through HTTP rather than straight into the event store, so the data goes through every rule a
real client meets (validation, unique emails, versions) and the projector is woken as usual.
Users are seeded side by side; each user's orders follow its registration, since they need it.
"""

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import httpx
import typer
from rich.console import Console

from esctl.connect import DEFAULT_DATA_DIR, DataDir, fail, resolve_target
from esctl.progress import progress_bar, summary

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman")
PRODUCTS = (
    ("Espresso beans, 1 kg", "18.50"),
    ("Pour-over kettle", "39.00"),
    ("Ceramic mug", "9.90"),
    ("Paper filters, 100", "4.25"),
    ("Hand grinder", "64.00"),
)
# A command that meets one of these is sent again with the same Idempotency-Key: the
# command API answers a repeat with the first response, never a second event (guarantee 4).
RETRY_STATUSES = {502, 503, 504}
ATTEMPTS = 5


class SeedFailed(Exception):
    pass


@dataclass(frozen=True)
class Plan:
    users: int
    orders_per_user: int
    concurrency: int

    @property
    def commands(self) -> int:
        return self.users * (1 + self.orders_per_user)


def seed(
    users: Annotated[int, typer.Option(min=1, help="How many users to register.")] = 100,
    orders_per_user: Annotated[int, typer.Option(min=0, help="Orders placed for each.")] = 3,
    concurrency: Annotated[int, typer.Option(min=1, help="Commands in flight at once.")] = 16,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Load demo users and orders through the command API, with the write token."""
    target = resolve_target(data_dir)
    token = target.write_token()
    if token is None:
        fail(f"no write token: set WRITE_TOKENS, or run `esctl up` on {data_dir} once")
    plan = Plan(users, orders_per_user, concurrency)
    with progress_bar(Console(stderr=True), "commands") as bar:
        task = bar.add_task("seeding", total=plan.commands)
        started = time.perf_counter()
        try:
            asyncio.run(load(target.command_api, token, plan, lambda: bar.advance(task)))
        except SeedFailed as error:
            fail(f"seeding through {target.command_api} failed: {error}")
        except KeyboardInterrupt:
            fail("seeding interrupted; what was sent is kept", code=130)
    seconds = time.perf_counter() - started
    typer.echo(
        f"seeded {users:,} users with {orders_per_user} orders each: "
        f"{summary(plan.commands, 'commands', seconds)}"
    )


async def load(base_url: str, token: str, plan: Plan, done: Callable[[], None]) -> None:
    """Send every command of the plan, `plan.concurrency` at a time."""
    run_tag = secrets.token_hex(3)  # a second seed registers new emails instead of colliding
    indexes = iter(range(plan.users))
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        limits=httpx.Limits(max_connections=plan.concurrency),
    ) as client:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(plan.concurrency, plan.users)):
                    group.create_task(_seed_users(client, indexes, plan, run_tag, done))
        except* SeedFailed as failed:
            raise failed.exceptions[0] from None
        except* httpx.TransportError as failed:
            raise SeedFailed(
                f"the command API does not answer (is the stack up?): {failed.exceptions[0]!r}"
            ) from None


async def _seed_users(
    client: httpx.AsyncClient,
    indexes: Iterator[int],
    plan: Plan,
    run_tag: str,
    done: Callable[[], None],
) -> None:
    # Every worker draws from the one iterator: no two seed the same user.
    for i in indexes:
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[i % len(LAST_NAMES)]
        user = await _post(
            client,
            "/users",
            {"name": f"{first} {last}", "email": f"{first}.{last}.{run_tag}.{i}@example.com"},
        )
        done()
        for j in range(plan.orders_per_user):
            product, price = PRODUCTS[(i + j) % len(PRODUCTS)]
            body = {"product": product, "quantity": 1 + (i + j) % 3, "unit_price": price}
            await _post(client, f"/users/{user}/orders", body)
            done()


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, object]) -> str:
    """POST a command; returns the new stream's id."""
    key = str(uuid.uuid4())
    for attempt in range(ATTEMPTS):
        try:
            response = await client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            if attempt == ATTEMPTS - 1:
                raise
        else:
            if response.status_code not in RETRY_STATUSES or attempt == ATTEMPTS - 1:
                break
        await asyncio.sleep(0.2 * 2**attempt)
    if response.status_code != 201:
        raise SeedFailed(f"POST {path} answered {response.status_code}: {_reason(response)}")
    return str(response.json()["id"])


def _reason(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(problem, dict):  # problem+json (RFC 9457)
        return str(problem.get("detail") or problem.get("title"))
    return response.text[:200]
