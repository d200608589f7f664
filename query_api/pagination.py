"""Cursor pagination by `_id`: stable under concurrent writes, unlike skip/offset.

The cursor is the last id of a page and a check of it, as URL-safe base64: opaque to clients, so
that paging can change its key later, and checked strictly, so that nothing but an id we wrote
reaches the query (guarantee 8), and a cursor that was cut, padded or edited is refused instead
of quietly starting a page somewhere else.
"""

import base64
import binascii
import hashlib
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
_ID_BYTES = 16
# Not a signature (there is no secret to sign with, and a forged cursor reveals nothing a
# client could not page to): a check that tells a cursor we wrote from one that was changed.
_CHECK_BYTES = 4
_CURSOR_CHARS = 27  # 20 bytes in unpadded base64


def _check(id_bytes: bytes) -> bytes:
    return hashlib.blake2b(id_bytes, digest_size=_CHECK_BYTES, person=b"page-cursor").digest()


def encode_cursor(last_id: str) -> str:
    id_bytes = UUID(last_id).bytes
    return base64.urlsafe_b64encode(id_bytes + _check(id_bytes)).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> str:
    """The id a cursor stands for; 400 for anything `encode_cursor` could not have written."""
    if len(cursor) != _CURSOR_CHARS:
        raise _bad_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=")
    except (UnicodeEncodeError, binascii.Error):
        raise _bad_cursor() from None
    id_bytes, check = raw[:_ID_BYTES], raw[_ID_BYTES:]
    if len(raw) != _ID_BYTES + _CHECK_BYTES or check != _check(id_bytes):
        raise _bad_cursor()
    last_id = str(UUID(bytes=id_bytes))
    # Base64 decoding forgives stray characters and unused bits; one id has exactly one cursor.
    if encode_cursor(last_id) != cursor:
        raise _bad_cursor()
    return last_id


def _bad_cursor() -> Problem:
    return Problem(400, "Bad cursor", "pass a `next_cursor` from an earlier page")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: str | None


async def _page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=100,
            description="the `next_cursor` of the page before",
            # Documented, not enforced here: any other text is a 400 (`decode_cursor`).
            json_schema_extra={"pattern": f"^[A-Za-z0-9_-]{{{_CURSOR_CHARS}}}$"},
        ),
    ] = None,
) -> PageRequest:
    # A coroutine, though it never waits: FastAPI would run a plain function in a worker
    # thread, which cost a listing a tenth of its CPU (bench, issue 6).
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
