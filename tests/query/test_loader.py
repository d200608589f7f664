"""`DocumentLoader`: lookups asked for together go to MongoDB as one `find`, and each asker
gets its own document, or the error, as if it had read alone."""

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import InvalidOperation

from query_api.loader import SPLIT_FROM, Document, DocumentLoader, batch_size
from tests.support.commands import SentFinds
from tests.support.mongo import MongoServer


def _ids(find: dict[str, Any]) -> list[str]:
    return list(find["filter"]["_id"]["$in"])


def _decoded(document: Document | None) -> Any:
    """The whole document, embedded ones included, as plain dicts and lists (the loader's
    decode them on first use)."""
    if isinstance(document, Mapping):
        return {key: _decoded(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_decoded(item) for item in document]
    return document


@pytest.fixture
async def db(counted_db: AsyncDatabase[dict[str, Any]]) -> AsyncDatabase[dict[str, Any]]:
    """The test's database, through a client that reports its `find`s."""
    await counted_db.users.insert_many(
        [{"_id": f"u{i}", "name": f"user {i}", "orders": [{"id": f"o{i}"}]} for i in range(30)]
    )
    await counted_db.orders.insert_one({"_id": "o1", "user_id": "u1"})
    return counted_db


async def test_lookups_asked_together_share_one_find(
    db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    loader = DocumentLoader(db)
    keys = [f"u{i}" for i in range(SPLIT_FROM - 2)] + ["u3", "u3", "nobody"]
    found = await asyncio.gather(*(loader.find("users", key) for key in keys))
    assert [None if doc is None else doc["_id"] for doc in found] == [*keys[:-1], None]
    assert _decoded(found[3]) == {"_id": "u3", "name": "user 3", "orders": [{"id": "o3"}]}
    assert len(finds.sent) == 1
    assert sorted(_ids(finds.sent[0])) == sorted(set(keys))


async def test_many_lookups_go_in_two_finds(
    db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    """So that the server reads the second half while the first is being answered."""
    loader = DocumentLoader(db)
    keys = [f"u{i}" for i in range(29)] + ["u3", "nobody"]
    found = await asyncio.gather(*(loader.find("users", key) for key in keys))
    assert [None if doc is None else doc["_id"] for doc in found] == [*keys[:-1], None]
    assert sorted(len(_ids(find)) for find in finds.sent) == [15, 15]
    assert sorted(key for find in finds.sent for key in _ids(find)) == sorted(set(keys))


@pytest.mark.parametrize(
    ("asked", "max_batch", "size"),
    [
        (1, 100, 1),
        (SPLIT_FROM - 1, 100, SPLIT_FROM - 1),
        (SPLIT_FROM, 100, SPLIT_FROM // 2),
        (33, 100, 17),
        (500, 100, 100),
        (SPLIT_FROM - 1, 4, 4),
    ],
)
def test_batch_sizes(asked: int, max_batch: int, size: int) -> None:
    assert batch_size(asked, max_batch) == size


async def test_a_batch_is_split_at_its_size(
    db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    loader = DocumentLoader(db, max_batch=8)
    found = await asyncio.gather(*(loader.find("users", f"u{i}") for i in range(20)))
    assert [doc and doc["_id"] for doc in found] == [f"u{i}" for i in range(20)]
    assert sorted(len(_ids(find)) for find in finds.sent) == [4, 8, 8]


async def test_collections_and_projections_are_batched_apart(
    db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    loader = DocumentLoader(db)
    whole, named, order = await asyncio.gather(
        loader.find("users", "u1"),
        loader.find("users", "u1", {"name": 1}),
        loader.find("orders", "o1"),
    )
    assert _decoded(whole) == {"_id": "u1", "name": "user 1", "orders": [{"id": "o1"}]}
    assert _decoded(named) == {"_id": "u1", "name": "user 1"}
    assert _decoded(order) == {"_id": "o1", "user_id": "u1"}
    assert len(finds.sent) == 3


async def test_lookups_asked_one_after_another_each_see_the_latest_write(
    db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    loader = DocumentLoader(db)
    for version in range(3):
        await db.users.update_one({"_id": "u1"}, {"$set": {"version": version}})
        found = await loader.find("users", "u1")
        assert found is not None
        assert found["version"] == version
    assert len(finds.sent) == 3


async def test_an_asker_that_goes_leaves_the_others_their_answer(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    loader = DocumentLoader(db)
    leaving = asyncio.ensure_future(loader.find("users", "u1"))
    staying = asyncio.ensure_future(loader.find("users", "u1"))
    await asyncio.sleep(0)  # both asked, the batch not yet back
    leaving.cancel()
    found = await staying
    assert found is not None
    assert found["_id"] == "u1"
    assert leaving.cancelled()


async def test_a_failed_find_fails_every_asker(
    mongo_server: MongoServer, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.url)
    loader = DocumentLoader(client[mongo_db.name])
    await client.close()  # a real failure: the client refuses to run anything
    answers = await asyncio.gather(
        *(loader.find("users", key) for key in ("u1", "u2", "u2")), return_exceptions=True
    )
    assert all(isinstance(answer, InvalidOperation) for answer in answers)
