"""`ETag` and `If-None-Match` for single documents.

The tag is a digest of the body as sent, not the stream version: a user's body also changes
when one of their orders does, and an order's when its user is renamed, without that stream's
version moving. So a 304 is only ever answered for exactly the bytes the client holds.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from pydantic import BaseModel

# Personal data behind a token: shared caches must not keep it, and a client's copy is checked
# against us each time (cheaply, with If-None-Match).
_CACHE_CONTROL = "private, no-cache"

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the body has the `ETag` sent in `If-None-Match`"}
}


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison, which is what If-None-Match uses."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


@dataclass(frozen=True)
class Rendered:
    """A document's body as sent, and its tag."""

    body: bytes
    etag: str


def render(model: BaseModel) -> Rendered:
    body = model.model_dump_json().encode()
    return Rendered(body, etag_of(body))


def conditional_response(rendered: Rendered, if_none_match: str | None) -> Response:
    headers = {"ETag": rendered.etag, "Cache-Control": _CACHE_CONTROL}
    if if_none_match is not None and matches(if_none_match, rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)
