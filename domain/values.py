"""Constrained value types shared by commands, events and the HTTP models."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field, Strict, StringConstraints

CENT = Decimal("0.01")

# Control characters are refused: PostgreSQL's jsonb cannot hold NUL, and none belongs in a name.
_SHORT_TEXT = StringConstraints(
    strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$"
)
Name = Annotated[str, Strict(), _SHORT_TEXT]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Product = Annotated[str, Strict(), _SHORT_TEXT]
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
