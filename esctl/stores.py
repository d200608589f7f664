"""Where each backing store is: a configured server that answers, its default, or embedded.

DESIGN.md (Configuration): a URL that is set and answers is used as it is; a URL that is set
but silent is an operator's mistake, so the stack stops and names it rather than quietly
starting an empty embedded server in its place; an unset URL whose default does not answer
gets the embedded server.

"Answers" means the server speaks its protocol and accepts us, not merely that the port is
open: a PostgreSQL that wants a password we lack, or some other program on 6379, is of no
use to the services, and for an unset URL the embedded server is then the better choice.
"""

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from pymongo import AsyncMongoClient
from pymongo.uri_parser import parse_uri
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from settings import Settings

PROBE_SECONDS = 2.0

Probe = Callable[[str, float], Awaitable[None]]


class StoreUnavailable(Exception):
    """A configured URL whose server does not answer."""


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL (`postgresql+asyncpg://`) as a DSN that asyncpg itself accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def ping_postgres(url: str, timeout_seconds: float) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=timeout_seconds)
    try:
        await conn.fetchval("SELECT 1", timeout=timeout_seconds)
    finally:
        await conn.close(timeout=timeout_seconds)


async def ping_redis(url: str, timeout_seconds: float) -> None:
    client = Redis.from_url(
        url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


async def ping_mongodb(url: str, timeout_seconds: float) -> None:
    # The driver retries server selection until its timeout even when every port refuses, so a
    # refused plain `mongodb://` host list fails fast here instead of costing the full wait.
    if url.startswith("mongodb://"):
        await _any_accepts(parse_uri(url)["nodelist"], timeout_seconds)
    timeout_ms = int(timeout_seconds * 1000)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )
    try:
        await client.admin.command("ping")
    finally:
        await client.close()


async def _any_accepts(nodes: list[tuple[str, int]], timeout_seconds: float) -> None:
    errors: list[OSError] = []
    for host, port in nodes:
        try:
            async with asyncio.timeout(timeout_seconds):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as error:
            errors.append(OSError(f"{host}:{port}: {error or 'timed out'}"))
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise errors[0] if errors else OSError("no host in the URL")


@dataclass(frozen=True)
class Store:
    """One backing store: its setting, its default URL, how to tell that it answers."""

    name: str
    setting: str  # the field of `Settings`; the environment variable is its upper-case form
    default: str
    ping: Probe

    @property
    def variable(self) -> str:
        return self.setting.upper()


def _default(setting: str) -> str:
    default = Settings.model_fields[setting].default
    assert isinstance(default, str)
    return default


POSTGRES = Store("postgres", "database_url", _default("database_url"), ping_postgres)
REDIS = Store("redis", "redis_url", _default("redis_url"), ping_redis)
MONGODB = Store("mongodb", "mongodb_url", _default("mongodb_url"), ping_mongodb)
STORES = (POSTGRES, REDIS, MONGODB)


async def why_silent(store: Store, url: str, timeout_seconds: float = PROBE_SECONDS) -> str | None:
    """None when the server at `url` answers; else why not, in a few words."""
    try:
        # The outer bound catches the rare driver that ignores its own timeout. A scope, not
        # `wait_for`: cancelled from outside, `wait_for` can leave a failed inner task behind.
        async with asyncio.timeout(timeout_seconds + 1.0):
            await store.ping(url, timeout_seconds)
    except Exception as error:  # any failure means "does not answer"; the reason is shown
        return f"{type(error).__name__}: {error}".strip()[:300]
    return None


@dataclass(frozen=True)
class Resolved:
    """Where a store is: `url`, or None when the stack must start an embedded server."""

    store: Store
    url: str | None

    @property
    def embedded(self) -> bool:
        return self.url is None


async def resolve(
    store: Store, configured: str | None, *, embedded: bool, timeout_seconds: float = PROBE_SECONDS
) -> Resolved:
    if embedded:  # `--embedded`: whatever answers elsewhere is left alone
        return Resolved(store, None)
    if configured:
        problem = await why_silent(store, configured, timeout_seconds)
        if problem is not None:
            raise StoreUnavailable(
                f"{store.variable}={redact(configured)} is set but does not answer ({problem}); "
                f"start that server, or unset {store.variable} to get an embedded one"
            )
        return Resolved(store, configured)
    problem = await why_silent(store, store.default, timeout_seconds)
    return Resolved(store, store.default if problem is None else None)


async def resolve_all(settings: Settings, *, embedded: bool) -> list[Resolved]:
    """Every store, probed at once; a URL counts as set when it came from the environment."""

    def configured(store: Store) -> str | None:
        if store.setting not in settings.model_fields_set:
            return None
        value = getattr(settings, store.setting)
        assert isinstance(value, str)
        return value

    return list(
        await asyncio.gather(
            *(resolve(store, configured(store), embedded=embedded) for store in STORES)
        )
    )
