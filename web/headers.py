"""Request headers that a dependency reads itself, documented as FastAPI documents its own.

FastAPI validates each `Header()` parameter through pydantic on every request, and solves each
dependency that declares one on its own. Under `wrk`, the two headers and the token check
around `GET /users/{id}` took a tenth of the query API's CPU (bench, issue 6). So the
dependencies every command and every read goes through take only the request: they read their
headers with `RequestHeader.read`, which refuses an overlong one with the 422 FastAPI gives (at
once and on its own, where FastAPI gathered it with the body's errors), and name them with
`reads_headers`; the routers' `HeaderDocumentingRoute` documents them as FastAPI would have.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

from web.problems import FieldError, invalid_request

_READS = "__reads_headers__"
Dependency = TypeVar("Dependency", bound=Callable[..., Any])


@dataclass(frozen=True)
class RequestHeader:
    name: str  # as documented, like "Min-Position"; read in any case
    description: str | None = None
    max_length: int | None = None
    # Documented, not checked here: a dependency refuses a value of another shape with an
    # answer of its own, clearer than a pattern's.
    pattern: str | None = None

    def read(self, request: Request) -> str | None:
        value = request.headers.get(self.name)
        if value is not None and self.max_length is not None and len(value) > self.max_length:
            error = FieldError(
                loc=["header", self.name.lower()],
                msg=f"String should have at most {self.max_length} characters",
                type="string_too_long",
            )
            raise invalid_request([error])
        return value

    def parameter(self) -> dict[str, Any]:
        """The header as an OpenAPI parameter, as FastAPI would document a `Header()`."""
        schema: dict[str, Any] = {"type": "string", "title": self.name}
        documented: dict[str, Any] = {}
        if self.description is not None:
            schema["description"] = documented["description"] = self.description
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        return {
            "name": self.name.lower(),
            "in": "header",
            "required": False,
            "schema": schema,
            **documented,
        }


def reads_headers(*headers: RequestHeader) -> Callable[[Dependency], Dependency]:
    """Marks a dependency as reading `headers`, so that the routes using it document them."""

    def mark(dependency: Dependency) -> Dependency:
        setattr(dependency, _READS, headers)
        return dependency

    return mark


def headers_read(dependant: Dependant) -> Iterator[RequestHeader]:
    """The headers read by a route's dependencies, however deep, each once."""
    seen: set[str] = set()
    for dependency in dependant.dependencies:
        for header in (*getattr(dependency.call, _READS, ()), *headers_read(dependency)):
            if header.name not in seen:
                seen.add(header.name)
                yield header


class HeaderDocumentingRoute(APIRoute):
    """A route that documents the headers its dependencies read (`reads_headers`): the
    `route_class` of every router whose routes use such dependencies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        headers = [header.parameter() for header in headers_read(self.dependant)]
        if headers:
            extra = dict(self.openapi_extra or {})
            extra["parameters"] = [*extra.get("parameters", []), *headers]
            self.openapi_extra = extra
