"""Raw command fields as a client could send them: four in five valid, the rest not.

Invalid ones must be refused when the command is built (a `ValidationError`, the API's 422),
before any decider runs; valid ones exercise normalisation (stripping, money to two places).
"""

from decimal import Decimal
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")
_CHARS = st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"])


def mostly(
    valid: st.SearchStrategy[object], invalid: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    # Not `one_of(valid, valid, valid, valid, invalid)`: that collapses equal branches.
    return st.sampled_from([valid] * 4 + [invalid]).flatmap(lambda chosen: chosen)


def optional(field: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """A PATCH-style field: left out (None) or given."""
    return st.one_of(st.none(), field)


texts = mostly(
    st.one_of(
        st.text(_CHARS, min_size=1, max_size=30),
        # Surrounding whitespace is stripped: "  Ann\t" is stored as "Ann".
        st.sampled_from(["Ann", "Bob", "x" * 200]).map(lambda s: f"  {s}\t"),
    ),
    st.one_of(
        st.sampled_from(["", "   ", "tab\there", "nul\x00", "x" * 201]),
        st.text(max_size=210),
        st.integers(),
    ),
)

# Cheaper than `st.emails()`, and with what normalisation touches: case, IDNA, non-ASCII.
_LOCAL_PARTS = st.text(st.sampled_from("abcXYZ019._+-ÅßΩ"), min_size=1, max_size=12)
_DOMAINS = st.sampled_from(
    ["example.com", "Example.COM", "bücher.de", "xn--bcher-kva.de", "sub.example.org"]
)
emails = mostly(
    st.builds("{}@{}".format, _LOCAL_PARTS, _DOMAINS),
    st.one_of(st.sampled_from(["not-an-email", "a@[1.2.3.4]", '"q"@x.com']), st.text(max_size=40)),
)

quantities = mostly(
    st.integers(1, 1_000_000) | st.integers(1, 5),
    st.sampled_from([0, -1, 1_000_001, True, 2.0, "3"]),
)

money = mostly(
    st.one_of(
        st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2),
        st.decimals(min_value=0, max_value=100, places=1),
        st.integers(0, 10**6),
        st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("1.500"), Decimal("1E+2")]),
    ),
    st.one_of(
        st.from_regex(r"-?[0-9]{1,11}(\.[0-9]{0,3})?", fullmatch=True),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
)
