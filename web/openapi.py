"""Both APIs' OpenAPI documents, as a client can use them.

FastAPI documents an optional parameter (`x: str | None = None`) as "a string or null". But a
query parameter or a header cannot carry a JSON null: leaving it out is how a client sends
none. Generated clients and fuzzers (`tests/fuzz`) take the schema at its word and send the
text "null", which the API rightly refuses; so the document drops that null.
"""

from typing import Any

from fastapi import FastAPI

_NULL = {"type": "null"}


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()  # caches itself in `app.openapi_schema`
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", ()):
                        parameter["schema"] = without_null(parameter["schema"])
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its `null` alternative, if it has one."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or _NULL not in options:
        return schema
    rest = [option for option in options if option != _NULL]
    outer = {key: value for key, value in schema.items() if key != "anyOf"}
    # The title, description and any documented pattern apply to what is left.
    return {**rest[0], **outer} if len(rest) == 1 else {**outer, "anyOf": rest}
