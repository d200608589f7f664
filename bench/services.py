"""The processes under test, each started as `esctl up` starts it and stopped afterwards."""

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import httpx

from bench.processes import Child, uvicorn
from bench.stores import Stores
from esctl.ports import HOST, free_port
from settings import Settings


@dataclass(frozen=True)
class Tokens:
    write: str
    read: str

    @classmethod
    def new(cls) -> "Tokens":
        return cls(write=f"bench-w-{secrets.token_hex(8)}", read=f"bench-r-{secrets.token_hex(8)}")


def environment(settings: Settings, tokens: Tokens) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB": settings.mongodb_db,
        "PROJECTOR_QUEUE": settings.projector_queue,
        "WRITE_TOKENS": tokens.write,
        "READ_TOKENS": tokens.read,
        "ADMIN_TOKENS": "",
    }


@asynccontextmanager
async def api(stores: Stores, name: str, factory: str, env: dict[str, str]) -> AsyncIterator[str]:
    """An app served by uvicorn on a free port; yields its base URL."""
    port = free_port()
    child = Child(name, uvicorn(factory, port), stores.folder, env)
    try:
        await child.until_listening(port)
        yield f"http://{HOST}:{port}"
    finally:
        child.stop()


def command_api(
    stores: Stores, settings: Settings, tokens: Tokens
) -> AbstractAsyncContextManager[str]:
    env = environment(settings, tokens)
    return api(stores, "command_api", "command_api.app:create_app", env)


def query_api(
    stores: Stores, settings: Settings, tokens: Tokens
) -> AbstractAsyncContextManager[str]:
    env = environment(settings, tokens)
    return api(stores, "query_api", "query_api.app:create_app", env)


def sync_url(database_url: str) -> str:
    """The same database for a synchronous driver, as the baseline connects."""
    return database_url.replace("postgresql+asyncpg://", "postgresql+psycopg://", 1)


def baseline(stores: Stores, database_url: str) -> AbstractAsyncContextManager[str]:
    """The baseline CRUD app (`bench.baseline`), on a database of its own."""
    env = {"BASELINE_DATABASE_URL": sync_url(database_url)}
    return api(stores, "baseline", "bench.baseline.app:create_app", env)


@asynccontextmanager
async def projector(stores: Stores, settings: Settings, tokens: Tokens) -> AsyncIterator[Child]:
    env = {**environment(settings, tokens), "PROJECTOR_METRICS_PORT": str(free_port())}
    child = Child("projector", [sys.executable, "-m", "projector"], stores.folder, env)
    try:
        yield child
    finally:
        child.stop()


async def sign_up(base_url: str, count: int, token: str = "") -> list[str]:
    """`count` new users through `POST /users`; their ids."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ids = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(count):
            email = f"seed-{secrets.token_hex(6)}@example.com"
            response = await client.post("/users", json={"name": "Seed", "email": email})
            response.raise_for_status()
            ids.append(str(response.json()["id"]))
    return ids
