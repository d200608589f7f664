"""`ETag` and `If-None-Match` on single documents (RFC 9110, 13.1.2): a client that holds the
current body gets 304 and no body; any change to what it would read gives 200 and a new tag."""

from collections.abc import AsyncIterator

import httpx
import pytest

from readmodel.documents import OrderDocument, OrderStatus, UserDocument
from tests.query.conftest import CHECKPOINT
from tests.query.problems import assert_problem
from tests.query.seed import Database, a_user, an_order, store
from tests.query.shared import SharedReads, shared_reads
from tests.support.mongo import MongoServer


async def _seeded(mongo_db: Database) -> tuple[UserDocument, OrderDocument]:
    user = a_user("Ada Lovelace", "ada@example.com")
    order = an_order(user, "Tea, 250 g", 2, "4.50")
    await store(mongo_db, user, order)
    return user, order


def _path(kind: str, user: UserDocument, order: OrderDocument) -> str:
    return f"/users/{user.id}" if kind == "user" else f"/orders/{order.id}"


DOCUMENTS = pytest.mark.parametrize("kind", ["user", "order"])


@pytest.fixture(scope="module")
async def shared(mongo_server: MongoServer) -> AsyncIterator[SharedReads]:
    """For the table of headers: each case seeds documents of its own, but needs no app of its
    own."""
    async with shared_reads(mongo_server) as shared:
        yield shared


@DOCUMENTS
async def test_the_current_tag_answers_304_with_no_body(
    reader: httpx.AsyncClient, mongo_db: Database, kind: str
) -> None:
    path = _path(kind, *await _seeded(mongo_db))
    first = await reader.get(path)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert first.headers["cache-control"] == "private, no-cache"

    again = await reader.get(path)
    assert again.headers["etag"] == etag, "an unchanged document keeps its tag"

    cached = await reader.get(path, headers={"If-None-Match": etag})

    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert cached.headers["cache-control"] == "private, no-cache"
    assert cached.headers["projection-position"] == CHECKPOINT
    assert "content-type" not in cached.headers


@DOCUMENTS
async def test_a_changed_document_answers_200_with_a_new_tag(
    reader: httpx.AsyncClient, mongo_db: Database, kind: str
) -> None:
    user, order = await _seeded(mongo_db)
    path = _path(kind, user, order)
    old = (await reader.get(path)).headers["etag"]

    if kind == "user":
        user.name, user.version = "Ada King", user.version + 1
        await store(mongo_db, user)
    else:
        order.quantity, order.version = 3, order.version + 1
        await store(mongo_db, order)
    response = await reader.get(path, headers={"If-None-Match": old})

    assert response.status_code == 200, response.text
    assert response.headers["etag"] != old
    assert response.json()["version"] == (user.version if kind == "user" else order.version)
    assert (await reader.get(path, headers={"If-None-Match": old})).status_code == 200


async def test_a_change_that_moves_no_version_of_the_stream_still_changes_the_tag(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    """An order's body shows its user's name, and a user's body its orders' statuses: the tag
    must follow the body, not the stream version, or a client would keep a stale copy."""
    user, order = await _seeded(mongo_db)
    order_tag = (await reader.get(f"/orders/{order.id}")).headers["etag"]
    user_tag = (await reader.get(f"/users/{user.id}")).headers["etag"]

    order.user_name, order.user_version = "Ada King", order.user_version + 1
    user.orders[0].status = OrderStatus.CANCELLED
    user.recount()
    await store(mongo_db, user, order)

    renamed = await reader.get(f"/orders/{order.id}", headers={"If-None-Match": order_tag})
    cancelled = await reader.get(f"/users/{user.id}", headers={"If-None-Match": user_tag})
    assert (renamed.status_code, renamed.json()["user_name"]) == (200, "Ada King")
    assert (cancelled.status_code, cancelled.json()["order_count"]) == (200, 0)


@DOCUMENTS
@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        pytest.param("*", 304, id="star: any current body"),
        pytest.param("{tag}", 304, id="the tag"),
        pytest.param("W/{tag}", 304, id="the tag, weak: If-None-Match compares weakly"),
        pytest.param('"other", {tag}', 304, id="a list holding the tag"),
        pytest.param('"a",{tag},"b"', 304, id="a list without spaces"),
        pytest.param('  "a" ,   W/{tag}  ', 304, id="a list with spaces and a weak tag"),
        pytest.param('"other"', 200, id="another tag"),
        pytest.param('"a", W/"b"', 200, id="a list without the tag"),
        pytest.param("{bare}", 200, id="the tag without its quotes"),
        pytest.param('"*"', 200, id="a tag that is a quoted star"),
        pytest.param("", 200, id="empty"),
        pytest.param("garbage", 200, id="not a tag at all"),
    ],
)
async def test_if_none_match_follows_http(
    shared: SharedReads, kind: str, if_none_match: str, status: int
) -> None:
    path = _path(kind, *await _seeded(shared.db))
    tag = (await shared.reader.get(path)).headers["etag"]
    header = if_none_match.replace("{tag}", tag).replace("{bare}", tag.strip('"'))

    response = await shared.reader.get(path, headers={"If-None-Match": header})

    assert response.status_code == status, response.text
    assert response.headers["etag"] == tag
    if status == 304:
        assert response.content == b""
    else:
        assert response.json()["id"] in path


async def test_star_matches_no_missing_or_deleted_document(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    """`*` means "any current representation": there is none for an unknown or deleted one."""
    deleted = a_user(deleted=True)
    await store(mongo_db, deleted)
    unknown = "6f1c1c1e-0000-4000-8000-000000000000"
    for path, status in (
        (f"/users/{deleted.id}", 410),
        (f"/users/{unknown}", 404),
        (f"/orders/{unknown}", 404),
    ):
        response = await reader.get(path, headers={"If-None-Match": "*"})
        assert_problem(response, status)
        assert "etag" not in response.headers


async def test_tags_differ_between_documents_with_the_same_version(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    ada, bob = a_user("Ada"), a_user("Bob")
    await store(mongo_db, ada, bob)
    assert ada.version == bob.version
    ada_tag = (await reader.get(f"/users/{ada.id}")).headers["etag"]

    response = await reader.get(f"/users/{bob.id}", headers={"If-None-Match": ada_tag})

    assert response.status_code == 200
