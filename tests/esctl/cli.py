"""Running `esctl` commands in-process against real servers, and data for them to show."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from esctl.main import app
from readmodel.collections import ReadCollections
from settings import Settings
from tests.conftest import ANY_VERSION, unique_email
from tests.projector.conftest import Stack

Env = Mapping[str, str | None]


def stores_env(settings: Settings, **extra: str | None) -> dict[str, str | None]:
    """The environment that points `esctl` at these stores, as an operator's shell would."""
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB": settings.mongodb_db,
        "COLUMNS": "250",  # rich wraps tables to the terminal's width
        **extra,
    }


async def esctl(*args: str, env: Env) -> Result:
    # In a thread: each command runs its own event loop, which cannot nest in the test's.
    return await asyncio.to_thread(lambda: CliRunner().invoke(app, list(args), env=dict(env)))


@dataclass(frozen=True)
class Demo:
    users: list[str]
    orders: list[str]


async def populate(writer: httpx.AsyncClient, users: int = 3) -> Demo:
    """Users with orders, a rename and a cancellation: every kind of document change."""
    demo = Demo([], [])
    for i in range(users):
        response = await writer.post("/users", json={"name": f"U{i}", "email": unique_email()})
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        demo.users.append(user_id)
        for quantity in (1, 2):
            response = await writer.post(
                f"/users/{user_id}/orders",
                json={"product": "Tea", "quantity": quantity, "unit_price": "2.50"},
            )
            assert response.status_code == 201, response.text
            demo.orders.append(response.json()["id"])
    response = await writer.patch(
        f"/users/{demo.users[0]}", json={"name": "R"}, headers=ANY_VERSION
    )
    assert response.status_code == 200, response.text
    response = await writer.delete(f"/orders/{demo.orders[0]}", headers=ANY_VERSION)
    assert response.status_code == 200, response.text
    return demo


async def documents(stack: Stack, names: ReadCollections) -> list[list[dict[str, Any]]]:
    return [
        await stack.db[names.users].find().sort("_id").to_list(),
        await stack.db[names.orders].find().sort("_id").to_list(),
    ]
