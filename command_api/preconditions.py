"""`If-Match` as RFC 9110 (section 13.1.1) defines it, checked against a stream's version.

Guarantee 3: every write to an existing stream names the version it expects. A stream's
`ETag` is its version as a strong entity tag, `"3"`; `If-Match` uses the strong comparison,
so a weak tag (`W/"3"`) never matches.
"""

import re
from dataclasses import dataclass
from typing import Self

# One list element: an optional entity tag between optional whitespace, then a comma or the
# end. Empty elements are allowed (RFC 9110, section 5.6.1.2), and a comma may sit inside the
# quotes, so the list cannot simply be split on commas.
_ELEMENT = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?:,|\Z)')


class MalformedIfMatch(ValueError):
    pass


@dataclass(frozen=True)
class IfMatch:
    """`*` (any current version), or the opaque parts of the strong entity tags listed."""

    any_version: bool
    strong_tags: frozenset[str]

    @classmethod
    def parse(cls, value: str) -> Self:
        value = value.strip(" \t")
        if value == "*":
            return cls(any_version=True, strong_tags=frozenset())
        strong: set[str] = set()
        listed = 0
        at = 0
        while at < len(value):
            element = _ELEMENT.match(value, at)
            if element is None:
                raise MalformedIfMatch('If-Match takes * or entity tags in quotes, like "3"')
            if element.group(2) is not None:
                listed += 1
                if element.group(1) is None:
                    strong.add(element.group(2))
            at = element.end()
        if listed == 0:
            # Allowed by the grammar, but it can only come from a client that lost its ETag.
            raise MalformedIfMatch("If-Match names no entity tag")
        return cls(any_version=False, strong_tags=frozenset(strong))

    def matches(self, version: int) -> bool:
        """Whether a stream at `version` (0: it has no events) meets the precondition."""
        if self.any_version:
            return version > 0
        return str(version) in self.strong_tags
