"""What the OpenAPI documents tell a client it may send, against what the APIs accept.

A fuzzer and a generated client both take a schema at its word. Where a document admits more
than its API accepts, they send it and get a 4xx for a request they had every reason to think
valid (`fuzz_config(also=("positive_data_acceptance",))` finds these). Both APIs document
their parameters without a JSON null (`web/openapi.py`), their tokens' patterns, `/ready`'s
503, and request bodies as they read them; these tests keep it so.
"""

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from command_api.app import create_app as create_command_app
from command_api.routes import admin, events
from command_api.routes import operations as command_operations
from command_api.routes import orders as command_orders
from command_api.routes import users as command_users
from query_api.app import create_app as create_query_app
from query_api.pagination import encode_cursor
from query_api.routes import operations as query_operations
from query_api.routes import orders as query_orders
from query_api.routes import users as query_users
from settings import Settings
from web.headers import headers_read

Document = dict[str, Any]
_NULL = {"type": "null"}
QUERY: Document = create_query_app(Settings()).openapi()
COMMAND: Document = create_command_app(Settings()).openapi()


def _parameters(document: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                yield f"{method.upper()} {path} {parameter['name']}", parameter["schema"]


def _parameter(document: Document, method: str, path: str, name: str) -> dict[str, Any]:
    for parameter in document["paths"][path][method.lower()].get("parameters", ()):
        if parameter["name"] == name:
            schema: dict[str, Any] = parameter["schema"]
            return schema
    raise LookupError(f"{method} {path} has no parameter {name}")


def _options(schema: dict[str, Any]) -> list[Any]:
    """The alternatives of an `anyOf`, if it is one."""
    options: list[Any] = schema.get("anyOf", [])
    return options


def _component(document: Document, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(QUERY, id="query"),
        pytest.param(COMMAND, id="command"),
    ],
)
def test_no_parameter_is_documented_as_null(document: Document) -> None:
    # A query parameter or a header is text or absent: it cannot carry a JSON null.
    nullable = [label for label, schema in _parameters(document) if _NULL in _options(schema)]
    assert nullable == []


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(QUERY, id="query"),
        pytest.param(COMMAND, id="command"),
    ],
)
def test_ready_documents_its_503(document: Document) -> None:
    answers = document["paths"]["/ready"]["get"]["responses"]
    assert "503" in answers
    assert answers["503"]["content"]["application/json"]["schema"] != {}


@pytest.mark.parametrize(
    ("method", "path", "name", "accepted", "refused"),
    [
        ("GET", "/users", "cursor", encode_cursor(str(uuid.uuid4())), "not a cursor!"),
        ("GET", "/orders/{order_id}", "min-position", "1042-7", "01-2"),
    ],
)
def test_the_query_api_documents_the_shape_of_its_tokens(
    method: str, path: str, name: str, accepted: str, refused: str
) -> None:
    pattern = _parameter(QUERY, method, path, name)["pattern"]
    assert re.search(pattern, accepted)
    assert not re.search(pattern, refused)


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("POST", "/users", "idempotency-key"),
        ("PUT", "/users/{user_id}", "if-match"),
        ("GET", "/events", "after"),
    ],
)
def test_the_command_api_documents_the_shape_of_its_tokens(
    method: str, path: str, name: str
) -> None:
    schema = _parameter(COMMAND, method, path, name)
    assert "pattern" in schema or any("pattern" in option for option in _options(schema))


def test_a_money_amount_is_documented_as_the_api_reads_it() -> None:
    unit_price = _component(COMMAND, "OrderBody")["properties"]["unit_price"]
    text = [option for option in _options(unit_price) if option.get("type") == "string"]
    assert all("pattern" in option for option in text)


@pytest.mark.parametrize("model", ["UserPatch", "OrderPatch"])
def test_a_patch_body_is_documented_as_the_api_reads_it(model: str) -> None:
    schema = _component(COMMAND, model)
    assert schema.get("minProperties", 0) >= 1
    for field in schema["properties"].values():
        assert _NULL not in _options(field)


# The headers that dependencies read themselves (`web.headers`), on every route that reads them.
READ_HEADERS = [
    ("GET", path, "min-position")
    for path in (
        "/users",
        "/orders",
        "/users/{user_id}/orders",
        "/users/{user_id}",
        "/orders/{order_id}",
    )
] + [("GET", path, "if-none-match") for path in ("/users/{user_id}", "/orders/{order_id}")]
COMMAND_HEADERS = [
    (method, path, "idempotency-key")
    for method, path in (
        ("POST", "/users"),
        ("POST", "/users/{user_id}/orders"),
        *(
            (method, path)
            for method in ("PUT", "PATCH", "DELETE")
            for path in ("/users/{user_id}", "/orders/{order_id}")
        ),
    )
] + [
    (method, path, "if-match")
    for method in ("PUT", "PATCH", "DELETE")
    for path in ("/users/{user_id}", "/orders/{order_id}")
]


@pytest.mark.parametrize(
    ("document", "method", "path", "name"),
    [pytest.param(QUERY, *case, id=" ".join(case)) for case in READ_HEADERS]
    + [pytest.param(COMMAND, *case, id=" ".join(case)) for case in COMMAND_HEADERS],
)
def test_headers_read_by_dependencies_are_documented(
    document: Document, method: str, path: str, name: str
) -> None:
    schema = _parameter(document, method, path, name)
    assert schema["type"] == "string"
    assert schema["title"].lower() == name
    limits = {"if-none-match": 4096, "idempotency-key": 200, "if-match": 100}
    assert schema.get("maxLength") == limits.get(name)
    assert ("pattern" in schema) == (name != "if-none-match")


ROUTERS: list[tuple[Document, APIRouter]] = [
    *((COMMAND, module.router) for module in (command_users, command_orders, events, admin)),
    (COMMAND, command_operations.router),
    *((QUERY, module.router) for module in (query_users, query_orders, query_operations)),
]


def test_every_header_a_dependency_reads_is_documented() -> None:
    """Whatever route comes to read headers through its dependencies, in whatever router: a
    router without `route_class=HeaderDocumentingRoute` would leave them out."""
    read: set[str] = set()
    missing: list[str] = []
    for document, router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = document["paths"][route.path_format][method.lower()]
                documented = {p["name"] for p in operation.get("parameters", ())}
                for header in headers_read(route.dependant):
                    read.add(header.name)
                    if header.name.lower() not in documented:
                        missing.append(f"{method} {route.path_format} {header.name}")
    assert missing == []
    assert read == {"Min-Position", "If-None-Match", "Idempotency-Key", "If-Match"}
