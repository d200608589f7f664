"""Constrained value types shared by commands, events and the HTTP models."""

from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import (
    AfterValidator,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")

# Control characters are refused: PostgreSQL's jsonb cannot hold NUL, and none belongs in a name.
# Whitespace around the text is stripped first (a tab or a newline with it), and the lengths
# count what is left: the published schema says so, lest it refuse what is accepted.
_SHORT_TEXT = StringConstraints(
    strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$"
)
_SHORT_TEXT_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": r"^[\s\u0085]*[^\x00-\x1f\x7f]{1,200}[\s\u0085]*$"}
)
Name = Annotated[str, Strict(), _SHORT_TEXT, _SHORT_TEXT_SCHEMA]
_EMAIL = TypeAdapter(EmailStr)


@lru_cache(maxsize=4096)
def _email_or_reason(text: str) -> tuple[str, str | None]:
    try:
        return _EMAIL.validate_python(text), None
    except ValidationError as error:
        return text, str(error.errors()[0]["ctx"]["reason"])


def _valid_email(text: str) -> str:
    """`EmailStr`'s check, remembered: a command's email is checked again by the command and
    by its event, and the check is the dearest part of a `POST /users`."""
    email, reason = _email_or_reason(text)
    if reason is not None:
        raise PydanticCustomError(
            "value_error", "value is not a valid email address: {reason}", {"reason": reason}
        )
    return email


# The length is that of the normalised address, checked after it, as `EmailStr` then
# `max_length` checked it.
Email = Annotated[
    str,
    AfterValidator(_valid_email),
    StringConstraints(max_length=254),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
Product = Annotated[str, Strict(), _SHORT_TEXT, _SHORT_TEXT_SCHEMA]
Quantity = Annotated[int, Strict(), Field(gt=0, le=1_000_000)]
# Money is a decimal with two places, never a float (DESIGN.md, HTTP contract).
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False),
    # abs() turns an accepted -0 into 0, so no price or total ever reads "-0.00".
    AfterValidator(lambda amount: abs(amount.quantize(CENT))),
]


def email_key(email: str) -> str:
    """The form under which an email is unique: case-insensitive (guarantee 5).

    `lower()`, not `casefold()`: case folding also maps letters that are not case variants
    onto each other ("ß" onto "ss"), so two different mailboxes would collide.
    """
    return email.lower()
