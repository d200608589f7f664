"""Renderings of single documents, kept per revision (`query_api.renderings`). What the API
answers with them is in `test_conditional.py` and `test_reads.py`; here, what is kept and what
is rendered again."""

import json
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from query_api.renderings import ENTRY_BYTES, Renderings
from query_api.schemas import OrderOut, UserOut
from tests.query.seed import a_user, an_order

# As the query API's loader reads documents: decoded lazily, dates with their zone.
LAZY = CodecOptions(document_class=RawBSONDocument, tz_aware=True)


def _lazy(fields: dict[str, Any]) -> RawBSONDocument:
    return bson.decode(bson.encode(fields), codec_options=LAZY)


def _stored(name: str = "Ada", revision: str | None = "7-1") -> RawBSONDocument:
    user = a_user(name)
    an_order(user)
    fields = user.to_mongo()
    if revision is None:
        del fields["revision"]
    else:
        fields["revision"] = revision
    return _lazy(fields)


def test_a_revision_is_rendered_once() -> None:
    renderings = Renderings()
    raw = _stored()

    first = renderings.of(UserOut, "users", raw)
    again = renderings.of(UserOut, "users", _lazy(dict(raw)))  # the same, read again

    assert again is first
    assert json.loads(first.body)["id"] == raw["_id"]
    assert renderings.size == len(first.body) + ENTRY_BYTES


def test_a_new_revision_is_rendered_again() -> None:
    renderings = Renderings()
    raw = _stored("Ada")
    old = renderings.of(UserOut, "users", raw)

    changed = _lazy({**raw, "name": "Ada King", "revision": "7-2"})
    new = renderings.of(UserOut, "users", changed)

    assert json.loads(new.body)["name"] == "Ada King"
    assert new.etag != old.etag
    assert renderings.size == len(new.body) + ENTRY_BYTES, "the newer took the older's place"


def test_the_key_is_the_collection_and_the_model_too() -> None:
    """A rebuild's collections hold documents of the same ids and revisions."""
    renderings = Renderings()
    raw = _stored()
    live = renderings.of(UserOut, "users", raw)

    rebuilt = renderings.of(UserOut, "users_2", _lazy({**raw, "name": "Rebuilt"}))
    order = an_order(a_user())
    order_raw = _lazy({**order.to_mongo(), "_id": raw["_id"], "revision": raw["revision"]})
    as_order = renderings.of(OrderOut, "users", order_raw)

    assert json.loads(rebuilt.body)["name"] == "Rebuilt"
    assert json.loads(as_order.body)["product"] == order.product
    assert renderings.of(UserOut, "users", raw) is live


def test_a_document_without_a_revision_is_rendered_every_time() -> None:
    renderings = Renderings()
    raw = _stored(revision=None)

    first = renderings.of(UserOut, "users", raw)
    second = renderings.of(UserOut, "users", raw)

    assert second is not first
    assert second == first
    assert renderings.size == 0


def test_the_least_recently_used_go_first_past_the_budget() -> None:
    docs = {name: _stored(name) for name in ("Ann", "Bob", "Cat")}
    size = len(Renderings().of(UserOut, "users", docs["Ann"]).body) + ENTRY_BYTES
    renderings = Renderings(max_bytes=2 * size + 1)  # names of one length: bodies of one size
    ann = renderings.of(UserOut, "users", docs["Ann"])
    bob = renderings.of(UserOut, "users", docs["Bob"])
    assert renderings.of(UserOut, "users", docs["Ann"]) is ann  # Ann used after Bob

    renderings.of(UserOut, "users", docs["Cat"])

    assert renderings.size == 2 * size
    assert renderings.of(UserOut, "users", docs["Ann"]) is ann
    assert renderings.of(UserOut, "users", docs["Bob"]) is not bob


def test_a_body_over_the_whole_budget_is_not_kept() -> None:
    renderings = Renderings(max_bytes=10)
    raw = _stored()

    first = renderings.of(UserOut, "users", raw)

    assert renderings.size == 0
    assert renderings.of(UserOut, "users", raw) is not first
