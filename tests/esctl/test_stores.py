"""Which server each store uses (DESIGN.md, Configuration), against real listening ports.

A URL that is set and answers is used as it is; one that is set but silent stops `esctl up`
with its name; an unset one takes the default when that answers, else the embedded server.
"""

import dataclasses
import os
import socket
from collections.abc import Iterator

import pytest

from esctl.ports import free_port
from esctl.stores import MONGODB, POSTGRES, REDIS, Store, StoreUnavailable, redact, resolve
from tests.support.mongo import MongoServer

QUICK = 0.5  # seconds a probe may take here; a silent server costs exactly this


@pytest.fixture(scope="module")
def live_urls(mongo_server: MongoServer) -> dict[str, str]:
    """A real, answering server for each store: the ones the rest of the suite uses."""
    return {
        POSTGRES.name: os.environ["DATABASE_URL"],
        REDIS.name: os.environ["REDIS_URL"],
        MONGODB.name: mongo_server.url,
    }


def url_at(store: Store, port: int) -> str:
    return {
        POSTGRES.name: f"postgresql+asyncpg://postgres:secret@127.0.0.1:{port}/postgres",
        REDIS.name: f"redis://:secret@127.0.0.1:{port}/0",
        MONGODB.name: f"mongodb://app:secret@127.0.0.1:{port}/?directConnection=true",
    }[store.name]


def dead_url(store: Store) -> str:
    """The store's URL on a port where nothing listens."""
    return url_at(store, free_port())


@pytest.fixture
def mute_port() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word, like a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


ALL = pytest.mark.parametrize("store", [POSTGRES, REDIS, MONGODB], ids=lambda store: store.name)


@ALL
async def test_a_set_url_that_answers_is_used_as_it_is(
    store: Store, live_urls: dict[str, str]
) -> None:
    resolved = await resolve(
        store, live_urls[store.name], embedded=False, timeout_seconds=QUICK * 4
    )
    assert resolved.url == live_urls[store.name]
    assert not resolved.embedded


@ALL
async def test_a_set_url_that_does_not_answer_stops_with_its_name(store: Store) -> None:
    url = dead_url(store)
    with pytest.raises(StoreUnavailable) as raised:
        await resolve(store, url, embedded=False, timeout_seconds=QUICK)
    assert store.variable in str(raised.value)
    assert redact(url) in str(raised.value)
    assert "secret" not in str(raised.value)


@ALL
async def test_a_port_that_accepts_but_does_not_speak_the_protocol_does_not_answer(
    store: Store, mute_port: int
) -> None:
    with pytest.raises(StoreUnavailable):
        await resolve(store, url_at(store, mute_port), embedded=False, timeout_seconds=QUICK)


@ALL
async def test_an_unset_url_takes_the_default_when_it_answers(
    store: Store, live_urls: dict[str, str]
) -> None:
    with_live_default = dataclasses.replace(store, default=live_urls[store.name])
    resolved = await resolve(with_live_default, None, embedded=False, timeout_seconds=QUICK * 4)
    assert resolved.url == live_urls[store.name]


@ALL
async def test_an_unset_url_whose_default_is_silent_gets_an_embedded_server(store: Store) -> None:
    with_dead_default = dataclasses.replace(store, default=dead_url(store))
    resolved = await resolve(with_dead_default, None, embedded=False, timeout_seconds=QUICK)
    assert resolved.embedded


@ALL
async def test_embedded_is_forced_even_over_a_set_url_that_answers(
    store: Store, live_urls: dict[str, str]
) -> None:
    resolved = await resolve(store, live_urls[store.name], embedded=True)
    assert resolved.embedded


def test_a_password_never_shows_in_a_message() -> None:
    assert (
        redact("postgresql+asyncpg://app:s3cr%2Ft@db:5432/x")
        == "postgresql+asyncpg://app:***@db:5432/x"
    )
    assert redact("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact("mongodb://127.0.0.1:27017") == "mongodb://127.0.0.1:27017"
