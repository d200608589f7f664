"""OpenAPI fuzzing of both APIs (issue 7, item 7; guarantee 8), with valid tokens.

For every documented operation, schemathesis generates requests from the schema, valid and
invalid, some aimed at users and orders that exist; each answer must be documented (status,
content type, headers, body), never a 5xx, every error problem+json, and every request the
schema refuses must be refused (see `harness`). Each operation gets `fuzz_budget` cases per
generation mode: 25 in CI, 300 with `--full-size`. The run ends with a tally of the answers.
"""

import pytest
from fastapi import FastAPI

from command_api.app import create_app as create_command_app
from query_api.app import create_app as create_query_app
from settings import Settings
from tests.fuzz.conftest import FuzzTarget
from tests.fuzz.harness import Budget, fuzz, record


def _operations(app: FastAPI, *, admin: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every documented operation, read when the tests are collected."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if path.startswith("/admin") == admin
    ]


def _label(operation: tuple[str, str]) -> str:
    return " ".join(operation)


COMMANDS = _operations(create_command_app(Settings()))
ADMIN = _operations(create_command_app(Settings()), admin=True)
READS = _operations(create_query_app(Settings()))


@pytest.mark.parametrize("operation", COMMANDS, ids=_label)
def test_the_command_api_answers_as_documented(
    command_api: FuzzTarget, fuzz_budget: Budget, operation: tuple[str, str]
) -> None:
    _fuzz(command_api, fuzz_budget, operation)


@pytest.mark.parametrize("operation", ADMIN, ids=_label)
def test_the_admin_routes_answer_as_documented(
    admin_api: FuzzTarget, fuzz_budget: Budget, operation: tuple[str, str]
) -> None:
    _fuzz(admin_api, fuzz_budget, operation)


@pytest.mark.parametrize("operation", READS, ids=_label)
def test_the_query_api_answers_as_documented(
    query_api: FuzzTarget, fuzz_budget: Budget, operation: tuple[str, str]
) -> None:
    _fuzz(query_api, fuzz_budget, operation)


def _fuzz(target: FuzzTarget, budget: Budget, operation: tuple[str, str]) -> None:
    method, path = operation
    tally = fuzz(target.schema[path][method], budget, target.headers, target.known)
    record(_label(operation), tally)
    assert tally.cases > 0
