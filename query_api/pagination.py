"""Cursor pagination by `_id`: stable under concurrent writes, unlike skip/offset.

The cursor is the last id of a page, as URL-safe base64 of its 16 bytes: opaque to clients, so
that paging can change its key later, and checked strictly, so that nothing but an id of ours
reaches the query (guarantee 8).
"""

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from query_api.schemas import Item, Page
from web.problems import Problem

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(UUID(last_id).bytes).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> str:
    """The id a cursor stands for; 400 for anything `encode_cursor` could not have written."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==")
        last_id = str(UUID(bytes=raw))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise Problem(400, "Bad cursor", "pass a `next_cursor` from an earlier page") from None
    # Base64 decoding forgives stray characters and padding; one id has exactly one cursor.
    if encode_cursor(last_id) != cursor:
        raise Problem(400, "Bad cursor", "pass a `next_cursor` from an earlier page")
    return last_id


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: str | None


def _page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> PageRequest:
    return PageRequest(limit, None if cursor is None else decode_cursor(cursor))


PageParams = Annotated[PageRequest, Depends(_page_request)]


async def read_page(
    collection: AsyncCollection[dict[str, Any]],
    query: Mapping[str, object],
    page: PageRequest,
    convert: Callable[[dict[str, Any]], Item],
    *,
    projection: Mapping[str, int] | None = None,
) -> Page[Item]:
    where = dict(query)
    if page.after is not None:
        where["_id"] = {"$gt": page.after}
    # One more than asked tells whether another page exists, so the last page says so itself.
    found = (
        await collection.find(where, projection)
        .sort("_id", ASCENDING)
        .limit(page.limit + 1)
        .to_list()
    )
    shown = found[: page.limit]
    more = len(found) > page.limit
    return Page(
        items=[convert(raw) for raw in shown],
        next_cursor=encode_cursor(shown[-1]["_id"]) if more else None,
    )
