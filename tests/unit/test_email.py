"""The remembered email check accepts, normalises and refuses exactly as pydantic's `EmailStr`
with a 254-character limit, the type it replaced for speed."""

from typing import Annotated, Any

import pytest
from pydantic import EmailStr, StringConstraints, TypeAdapter, ValidationError

from domain.values import Email

REFERENCE = TypeAdapter(Annotated[EmailStr, StringConstraints(max_length=254)])
REMEMBERED = TypeAdapter(Email)

CASES: list[Any] = [
    "Ada@Example.COM",
    "ada.lovelace+orders@example.org",
    "Ada Lovelace <ada@example.org>",
    "x" * 300 + " <a@b.com>",  # long only before normalising
    "a" * 250 + "@b.co",
    "a@" + "b" * 300,
    "straße@example.de",
    "nope",
    "two@@example.org",
    "",
    " ada@example.org ",
    123,
    None,
    b"ada@example.org",
]


def outcome(adapter: TypeAdapter[Any], value: Any) -> object:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        return [(e["type"], e["msg"]) for e in error.errors()]


@pytest.mark.parametrize("value", CASES, ids=lambda value: repr(value)[:30])
@pytest.mark.parametrize("twice", [False, True], ids=["first", "remembered"])
def test_the_remembered_check_answers_as_email_str(value: Any, twice: bool) -> None:
    if twice:
        outcome(REMEMBERED, value)
    assert outcome(REMEMBERED, value) == outcome(REFERENCE, value)


def test_its_schema_is_email_str_s() -> None:
    assert REMEMBERED.json_schema() == REFERENCE.json_schema()
