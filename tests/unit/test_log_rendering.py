"""A log line renders whatever it is given: it must never fail the request that logs it."""

import json
from decimal import Decimal
from uuid import UUID

from structlog.processors import JSONRenderer

from web.logging import render_json

render = JSONRenderer(serializer=render_json)


def test_plain_values_render_as_json() -> None:
    line = render(None, "info", {"event": "request", "status": 201, "ms": 1.5, "ok": True})
    assert json.loads(line) == {"event": "request", "status": 201, "ms": 1.5, "ok": True}


def test_what_orjson_refuses_still_renders() -> None:
    event = {"event": "big", "n": 2**70, "keys": {1: "one"}, "amount": Decimal("1.10")}
    assert json.loads(render(None, "info", event)) == {
        "event": "big",
        "n": 2**70,
        "keys": {"1": "one"},
        "amount": repr(Decimal("1.10")),
    }


def test_unknown_objects_render_as_their_text() -> None:
    user = UUID("12345678-1234-5678-1234-567812345678")
    assert json.loads(render(None, "info", {"event": "e", "user": user, "at": object})) == {
        "event": "e",
        "user": str(user),
        "at": repr(object),
    }
