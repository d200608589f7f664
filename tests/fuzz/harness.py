"""Schemathesis cases run in-process against an app, and what every answer must satisfy.

The cases come from the app's own OpenAPI schema (`schemathesis.openapi.from_asgi`), in both
generation modes: positive (what the schema admits) and negative (what it refuses). Each is
sent with a valid token, and its answer checked by schemathesis (no 5xx; status code, content
type, headers and body as documented; schema-invalid input refused with a 4xx) and by
`errors_are_problem_details` (DESIGN.md: every error is RFC 9457 problem+json).
"""

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response

PROBLEM_JSON = "application/problem+json"
Operation = APIOperation[Any, Any, Any, Any]

_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    # Guarantee 8: what the schema refuses, the API refuses too, with a 4xx.
    "negative_data_rejection",
)


def fuzz_config(*, also: Sequence[str] = ()) -> schemathesis.Config:
    """Exactly these checks (the stateful ones need a whole scenario, not one call).

    `also=("positive_data_acceptance",)` adds the check that every request the schema admits
    is accepted: it shows where a schema documents less than its API enforces. Not on by
    default, since an opaque token (a cursor, a position) cannot be described by a schema.
    """
    checks: dict[str, object] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in (*_CHECKS, *also)})
    checks["positive_data_acceptance"] = {
        "enabled": "positive_data_acceptance" in also,
        # A request the schema admits may still name a stream that is not there (404), was
        # deleted (410), or is at another version (412, and 428 without If-Match at all).
        "expected-statuses": ["2xx", "304", "404", "409", "410", "412", "428"],
    }
    return schemathesis.Config.from_dict({"checks": checks})


def errors_are_problem_details(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Every 4xx and 5xx is problem+json with `type`, `title`, `status` and `detail`."""
    if response.status_code < 400:
        return None
    content_type = ",".join(response.headers.get("content-type", []))
    assert content_type == PROBLEM_JSON, f"{response.status_code} answered as {content_type!r}"
    problem = json.loads(response.content)
    assert isinstance(problem, dict), problem
    for member in ("type", "title", "detail"):
        assert isinstance(problem.get(member), str), f"{member!r} missing: {problem}"
        assert problem[member], f"{member!r} empty: {problem}"
    assert problem.get("status") == response.status_code, problem
    return None


@dataclass
class Tally:
    """What a fuzz run sent and got: its size goes into the report."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def __str__(self) -> str:
        by_status = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return f"{self.cases} cases ({by_status})"


# Every operation's tally in this run, for the summary at the end (`conftest.py`).
TALLIES: dict[str, Tally] = {}


def record(label: str, tally: Tally) -> None:
    TALLIES[label] = tally


@dataclass(frozen=True)
class Known:
    """Values that name things that exist, by parameter name, to aim some cases at.

    Random ids almost never exist, so without these every read would be a 404 and every change
    a 404 or a 428: the documented success answers would never be checked.
    """

    path: Mapping[str, Sequence[str]] = field(default_factory=dict)
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Sent with the path values, where the operation takes them (say `If-Match: *`).
    headers: Mapping[str, str] = field(default_factory=dict)

    def variants(self, operation: Operation) -> list[dict[str, Any]]:
        """`as_strategy` arguments: one per known value the operation has a parameter for."""
        headers = {k: v for k, v in self.headers.items() if k.lower() in operation.headers}
        variants: list[dict[str, Any]] = []
        for name, values in self.path.items():
            if name in operation.path_parameters:
                variants += [{"path_parameters": {name: v}, "headers": headers} for v in values]
        for name, values in self.query.items():
            if name in operation.query:
                variants += [{"query": {name: v}} for v in values]
        return variants


@dataclass(frozen=True)
class Budget:
    """Examples per operation and generation mode."""

    max_examples: int

    def settings(self) -> settings:
        return settings(
            max_examples=self.max_examples,
            deadline=None,
            # No example database: a failure prints how to reproduce it instead.
            database=None,
            print_blob=True,
            # Real stores behind each call: slow by Hypothesis's measure, and that is fine.
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )


def fuzz(operation: Operation, budget: Budget, headers: Mapping[str, str], known: Known) -> Tally:
    """Runs `budget` cases of each mode against `operation`, checking every answer; some of the
    cases aimed at `known` things, the rest wholly generated."""
    tally = Tally()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        variants: list[dict[str, Any]] = [{}, *known.variants(operation)]
        cases = st.one_of(*(operation.as_strategy(mode, **kwargs) for kwargs in variants))

        @budget.settings()
        @given(case=cases)
        def run(case: Case[Any]) -> None:
            response = case.call(headers=dict(headers))
            tally.cases += 1
            tally.statuses[response.status_code] += 1
            case.validate_response(
                response,
                headers=dict(headers),
                additional_checks=[errors_are_problem_details],
            )

        try:
            run()
        except Unsatisfiable:
            # Nothing to break in this operation (no parameters, or none with constraints).
            assert mode is GenerationMode.NEGATIVE, operation.label
    return tally
