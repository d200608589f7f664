"""Names and products: the published pattern accepts whatever the service accepts.

The service strips whitespace around the text (a tab or a newline with it) before checking it,
so the schema that documents it must allow that whitespace, and count the length without it:
an OpenAPI fuzzer sent a name ending in a tab, which the schema refused and the service took.
"""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.values import Name, Product

NAME = TypeAdapter(Name)
PATTERN = re.compile(NAME.json_schema()["pattern"])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Ann", id="plain"),
        pytest.param("Ann\t", id="a tab after"),
        pytest.param("\n Ann \r\n", id="newlines around"),
        pytest.param("\u00a0Ann\u0085", id="Unicode whitespace around"),
        pytest.param("x" * 200 + "\t\t", id="200 characters and whitespace"),
        pytest.param("\U000e52fc\t", id="the fuzzer's case"),
    ],
)
def test_what_is_accepted_matches_the_published_pattern(text: str) -> None:
    NAME.validate_python(text)
    assert PATTERN.search(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Ann\tKing", id="a tab inside"),
        pytest.param("x" * 201, id="201 characters"),
        pytest.param("", id="empty"),
        pytest.param("A\x00", id="NUL"),
    ],
)
def test_what_the_pattern_refuses_is_refused(text: str) -> None:
    assert not PATTERN.search(text)
    with pytest.raises(ValidationError):
        NAME.validate_python(text)


def test_products_are_documented_alike() -> None:
    assert TypeAdapter(Product).json_schema()["pattern"] == PATTERN.pattern
