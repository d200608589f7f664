"""`If-Match` parsing and matching, as RFC 9110 (sections 8.8.3 and 13.1.1) define them."""

import pytest

from command_api.preconditions import IfMatch, MalformedIfMatch


@pytest.mark.parametrize(
    ("header", "version", "matches"),
    [
        pytest.param('"3"', 3, True, id="the current tag"),
        pytest.param('"3"', 4, False, id="another version's tag"),
        pytest.param('W/"3"', 3, False, id="a weak tag: the strong comparison never matches it"),
        pytest.param('"1", W/"3", "3"', 3, True, id="a list holding the strong tag"),
        pytest.param('"1",W/"3"', 3, False, id="a list holding only the weak tag"),
        pytest.param('"03"', 3, False, id="compared as text, not as a number"),
        pytest.param('"3,4"', 3, False, id="a comma inside the quotes belongs to the tag"),
        pytest.param('"3,4", "4"', 4, True, id="and does not split the list"),
        pytest.param(', "3" ,,\t', 3, True, id="empty elements and spaces are ignored"),
        pytest.param('""', 3, False, id="an empty tag is a tag"),
        pytest.param('"\x80\xff"', 3, False, id="obs-text is allowed inside a tag"),
        pytest.param("*", 3, True, id="any version of an existing stream"),
        pytest.param(" * ", 1, True, id="any version, padded"),
        pytest.param("*", 0, False, id="but not a stream that does not exist"),
    ],
)
def test_a_well_formed_header_matches_only_the_strong_tag_of_the_version(
    header: str, version: int, matches: bool
) -> None:
    assert IfMatch.parse(header).matches(version) is matches


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("", id="empty"),
        pytest.param(" ,, ", id="only empty elements"),
        pytest.param("3", id="a bare version"),
        pytest.param('"3', id="no closing quote"),
        pytest.param('3"', id="no opening quote"),
        pytest.param('"3" "4"', id="two tags without a comma"),
        pytest.param('"3"x', id="text after a tag"),
        pytest.param('*, "3"', id="* in a list"),
        pytest.param("**", id="two stars"),
        pytest.param('w/"3"', id="a lower-case weak prefix"),
        pytest.param('W/ "3"', id="a space after the weak prefix"),
        pytest.param("W/3", id="a weak prefix without quotes"),
        pytest.param('"a b"', id="a space inside the quotes"),
        pytest.param('"a\x7fb"', id="DEL inside the quotes"),
        pytest.param('"a\x01b"', id="a control character inside the quotes"),
        pytest.param('"a"b"', id="a quote inside the quotes"),
    ],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(MalformedIfMatch):
        IfMatch.parse(header)
