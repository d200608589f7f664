"""What every refusal of the query API looks like: RFC 9457 problem+json."""

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, field_name: str | None = None
) -> dict[str, Any]:
    """The response is a problem document with `status`; for 422, one error names the field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    for member in ("type", "title", "detail"):
        assert isinstance(problem.get(member), str), problem
        assert problem[member], problem
    assert problem["status"] == status
    if field_name is not None:
        errors = problem.get("errors")
        assert isinstance(errors, list), problem
        named = [error["loc"][-1] for error in errors if error.get("loc")]
        assert field_name in named, f"no error names {field_name!r}: {errors}"
    return problem
