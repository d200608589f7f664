"""A random mix of commands from many concurrent clients, racing on shared users and orders.

Changes send `If-Match: *`: the clients race on purpose, and every change that reaches a live
stream should land, so that the projector sees as many interleaved writes as possible.
"""

import asyncio
import random
from dataclasses import dataclass, field

import httpx

from tests.conftest import ANY_VERSION, unique_email


@dataclass
class Shared:
    users: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


async def client(writer: httpx.AsyncClient, shared: Shared, commands: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(commands):
        response = await _one(writer, shared, rng)
        shared.statuses[response.status_code] = shared.statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text


async def _one(writer: httpx.AsyncClient, shared: Shared, rng: random.Random) -> httpx.Response:
    roll = rng.random()
    if roll < 0.15 or not shared.users:
        response = await writer.post(
            "/users", json={"name": f"User {rng.randint(1, 999)}", "email": unique_email()}
        )
        if response.status_code == 201:
            shared.users.append(response.json()["id"])
        return response
    user_id = rng.choice(shared.users)
    if roll < 0.45:
        price = f"{rng.randint(0, 5000) / 100:.2f}"
        response = await writer.post(
            f"/users/{user_id}/orders",
            json={"product": "Widget", "quantity": rng.randint(1, 9), "unit_price": price},
        )
        if response.status_code == 201:
            shared.orders.append(response.json()["id"])
        return response
    if roll < 0.55:
        return await writer.patch(
            f"/users/{user_id}",
            json={"name": f"Renamed {rng.randint(1, 99)}"},
            headers=ANY_VERSION,
        )
    if roll < 0.6:
        return await writer.patch(
            f"/users/{user_id}", json={"email": unique_email()}, headers=ANY_VERSION
        )
    if roll < 0.63:
        return await writer.delete(f"/users/{user_id}", headers=ANY_VERSION)
    if not shared.orders:
        return await writer.get("/health")
    order_id = rng.choice(shared.orders)
    if roll < 0.9:
        return await writer.patch(
            f"/orders/{order_id}", json={"quantity": rng.randint(1, 9)}, headers=ANY_VERSION
        )
    return await writer.delete(f"/orders/{order_id}", headers=ANY_VERSION)


async def run(writer: httpx.AsyncClient, clients: int, commands_each: int) -> Shared:
    shared = Shared()
    await asyncio.gather(*(client(writer, shared, commands_each, seed) for seed in range(clients)))
    return shared
