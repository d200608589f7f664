"""Guarantee 8 on the read side: a bad read gets a clear 4xx, never a 5xx, and nothing a client
sends reaches MongoDB as an operator.

Every refusal below is aimed at data that would answer 200 (a live user with an order, and more
users than one page holds), so a check that went missing shows up as a 2xx and fails the case.
"""

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from tests.query.problems import assert_problem
from tests.query.seed import a_user, an_order, store
from tests.query.shared import SharedReads, shared_reads
from tests.support.mongo import MongoServer

UNKNOWN_ID = "6f1c1c1e-0000-4000-8000-000000000000"
LIST_ROUTES = ["/users", "/orders", "/users/{user}/orders"]
ONE_ROUTES = ["/users/{user}", "/orders/{order}"]
ROUTES = LIST_ROUTES + ONE_ROUTES


@dataclass(frozen=True)
class Targets:
    user_id: str
    order_id: str
    other_user_id: str
    # A `next_cursor` a listing really gave, and so one that a read would accept.
    cursor: str

    def fill(self, text: str) -> str:
        # Plain replacement, not str.format: many values hold braces of their own.
        for placeholder, value in (
            ("{user}", self.user_id),
            ("{order}", self.order_id),
            ("{other}", self.other_user_id),
            ("{cursor_flipped}", _flipped(self.cursor, 5)),
            ("{cursor_last_flipped}", _flipped(self.cursor, len(self.cursor) - 1)),
            ("{cursor}", self.cursor),
        ):
            text = text.replace(placeholder, value)
        return text


def _flipped(cursor: str, at: int) -> str:
    """The cursor with one character changed: what a client that edits cursors sends."""
    replacement = "B" if cursor[at] != "B" else "C"
    return cursor[:at] + replacement + cursor[at + 1 :]


# Names holding what a pattern would read as syntax, for the literal-filter tests below.
PATTERN_NAMES = [".* star", "$where clause", "\\backslash", "[A-Z] bracket"]


@pytest.fixture(scope="module")
async def shared(mongo_server: MongoServer) -> AsyncIterator[SharedReads]:
    """Every case here only reads, so one app on one seeded database serves the whole module."""
    async with shared_reads(mongo_server) as shared:
        yield shared


@pytest.fixture(scope="module")
async def targets(shared: SharedReads) -> Targets:
    ada, bob = a_user("Ada Lovelace", "ada@example.com"), a_user("Bob")
    others = [a_user(name) for name in ["Carol", *PATTERN_NAMES]]
    order, other_order = an_order(ada), an_order(bob)
    gone = a_user(".* gone", deleted=True)
    await store(shared.db, ada, bob, *others, gone, order, other_order)
    first_page = await shared.reader.get("/users", params={"limit": 1})
    assert first_page.status_code == 200, first_page.text
    cursor = first_page.json()["next_cursor"]
    assert isinstance(cursor, str)
    return Targets(ada.id, order.id, bob.id, cursor)


@dataclass(frozen=True)
class Case:
    path: str  # "{user}", "{order}", "{other}" and "{cursor…}" stand for the targets
    status: int
    # For 422: the name of the field that one of the problem's `errors` must point at.
    field_name: str | None = None
    params: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


def _everywhere(
    label: str,
    routes: Sequence[str],
    *,
    values: Sequence[tuple[str, str]],
    status: int,
    field_name: str | None,
    param: str | None = None,
    header: str | None = None,
) -> list[object]:
    """Every value on the first route, and the first value on every other route: each route
    is shown to refuse the kind of input, without multiplying the table."""
    cases: list[object] = []
    for index, route in enumerate(routes):
        for value_id, value in values if index == 0 else values[:1]:
            params = ((param, value),) if param is not None else ()
            headers = {header: value} if header is not None else {}
            case_ = Case(route, status, field_name, params=params, headers=headers)
            cases.append(pytest.param(case_, id=f"{route} {label}: {value_id}"))
    return cases


BAD_LIMITS = [
    ("zero", "0"),
    ("negative", "-1"),
    ("over the cap", "101"),
    ("huge", "1000000"),
    ("beyond 64 bits", "99999999999999999999999"),
    ("fraction", "1.5"),
    ("exponent", "1e2"),
    ("hex", "0x10"),
    ("word", "ten"),
    ("empty", ""),
    ("operator", '{"$gt": 0}'),
]
BAD_CURSORS = [
    ("one character changed", "{cursor_flipped}"),
    ("last character changed", "{cursor_last_flipped}"),
    ("case swapped", "SWAPCASE"),
    ("padded", "{cursor}="),
    ("one character longer", "{cursor}A"),
    ("one character shorter", "SHORTER"),
    ("standard base64 padding", "{cursor}=="),
    ("all zero bytes", "A" * 22),
    ("empty", ""),
    ("not base64", "not a cursor!"),
    ("operator", '{"$gt": ""}'),
    ("non-ASCII", "ÄÖÜ"),
    ("NUL", "\x00"),
]
# Over `max_length`: refused by validation (422) before anything decodes it.
LONG_CURSOR = [("101 characters", "A" * 101)]
BAD_POSITIONS = [
    ("word", "abc"),
    ("empty", ""),
    ("one number", "5"),
    ("no position", "1-"),
    ("negative", "-1-5"),
    ("three parts", "1-2-3"),
    ("leading zero", "01-2"),
    ("plus sign", "+1-2"),
    ("decimal", "1.0-2"),
    ("inner spaces", "1 - 2"),
    ("underscore digits", "1_000-2"),
    ("non-ASCII digits", "\uff19-\uff19"),
    ("2 to the 63", "9223372036854775808-1"),
    ("operator", '{"$gt": ""}'),
]
BAD_PATH_IDS = [
    ("word", "not-a-uuid"),
    ("number", "1"),
    ("operator", '{"$ne": null}'),
    ("regex", ".*"),
    ("$where", "$where"),
    ("id with a tail", UNKNOWN_ID + "x"),
    ("NUL", "%00"),
    ("newline", "%0A"),
]


def _path_cases() -> list[object]:
    cases: list[object] = []
    for route, field_name in (
        ("/users/{id}", "user_id"),
        ("/users/{id}/orders", "user_id"),
        ("/orders/{id}", "order_id"),
    ):
        for value_id, value in BAD_PATH_IDS:
            case_ = Case(route.replace("{id}", value), 422, field_name)
            cases.append(pytest.param(case_, id=f"{route}: {value_id}"))
    return cases


def _case(case_id: str, path: str, status: int, field_name: str | None, *params: str) -> object:
    pairs = tuple((params[i], params[i + 1]) for i in range(0, len(params), 2))
    return pytest.param(Case(path, status, field_name, params=pairs), id=f"{path}: {case_id}")


# Parameters no route takes, most of them shaped like the query-string operators other
# frameworks turn into `{"$ne": "x"}`: ignoring them would quietly answer an unfiltered listing.
UNKNOWN_PARAMETERS = [
    _case("user_id[$ne]", "/orders", 422, "user_id[$ne]", "user_id[$ne]", "x"),
    _case("status[$in]", "/orders", 422, "status[$in]", "status[$in]", "open"),
    _case("status[$ne]", "/orders", 422, "status[$ne]", "status[$ne]", "cancelled"),
    _case("email[$ne]", "/users", 422, "email[$ne]", "email[$ne]", ""),
    _case("name_prefix[$regex]", "/users", 422, "name_prefix[$regex]", "name_prefix[$regex]", "."),
    _case("$where", "/users", 422, "$where", "$where", "1"),
    _case("deleted", "/users", 422, "deleted", "deleted", "true"),
    _case("status is not a filter here", "/users/{user}/orders", 422, "status", "status", "open"),
    _case("user_id[$ne]", "/users/{user}", 422, "user_id[$ne]", "user_id[$ne]", "x"),
    _case("user_id[$ne]", "/orders/{order}", 422, "user_id[$ne]", "user_id[$ne]", "x"),
]
# One filter given twice: which one would win is nobody's contract.
REPEATED_PARAMETERS = [
    _case("status twice", "/orders", 422, "status", "status", "open", "status", "cancelled"),
    _case("user_id twice", "/orders", 422, "user_id", "user_id", "{user}", "user_id", "{other}"),
    _case("email twice", "/users", 422, "email", "email", "ada@example.com", "email", "b@x.org"),
    _case("limit twice", "/users/{user}/orders", 422, "limit", "limit", "1", "limit", "2"),
]
BAD_TYPED_FILTERS = [
    _case("user_id $ne", "/orders", 422, "user_id", "user_id", "$ne"),
    _case("user_id operator object", "/orders", 422, "user_id", "user_id", '{"$ne": null}'),
    _case("user_id NUL", "/orders", 422, "user_id", "user_id", "\x00"),
    _case("user_id empty", "/orders", 422, "user_id", "user_id", ""),
    _case("status $gt", "/orders", 422, "status", "status", "$gt"),
    _case("status operator object", "/orders", 422, "status", "status", '{"$in": ["open"]}'),
    _case("status regex", "/orders", 422, "status", "status", ".*"),
    _case("status with a NUL", "/orders", 422, "status", "status", "open\x00"),
]
BAD_TEXT_FILTERS = [
    _case("email NUL", "/users", 422, "email", "email", "ada\x00@example.com"),
    _case("email newline", "/users", 422, "email", "email", "ada\n@example.com"),
    _case("email DEL", "/users", 422, "email", "email", "ada\x7f@example.com"),
    _case("email empty", "/users", 422, "email", "email", ""),
    _case("email 321 characters", "/users", 422, "email", "email", "a" * 321),
    _case("name_prefix NUL", "/users", 422, "name_prefix", "name_prefix", "\x00"),
    _case("name_prefix escape", "/users", 422, "name_prefix", "name_prefix", "Ada\x1b[31m"),
    _case("name_prefix CRLF", "/users", 422, "name_prefix", "name_prefix", "Ada\r\nX: y"),
    _case("name_prefix tab", "/users", 422, "name_prefix", "name_prefix", "Ada\tL"),
    _case("name_prefix empty", "/users", 422, "name_prefix", "name_prefix", ""),
    _case("name_prefix 201 characters", "/users", 422, "name_prefix", "name_prefix", "x" * 201),
]
OTHER_HEADERS = [
    pytest.param(
        Case("/users/{user}", 422, "if-none-match", headers={"If-None-Match": "x" * 5000}),
        id="/users/{user}: If-None-Match of 5000 characters",
    ),
]

CASES = [
    *_path_cases(),
    *_everywhere(
        "limit", LIST_ROUTES, values=BAD_LIMITS, status=422, field_name="limit", param="limit"
    ),
    *_everywhere(
        "cursor", LIST_ROUTES, values=BAD_CURSORS, status=400, field_name=None, param="cursor"
    ),
    *_everywhere(
        "cursor", LIST_ROUTES, values=LONG_CURSOR, status=422, field_name="cursor", param="cursor"
    ),
    *_everywhere(
        "Min-Position",
        ROUTES,
        values=BAD_POSITIONS,
        status=400,
        field_name=None,
        header="Min-Position",
    ),
    *UNKNOWN_PARAMETERS,
    *REPEATED_PARAMETERS,
    *BAD_TYPED_FILTERS,
    *BAD_TEXT_FILTERS,
    *OTHER_HEADERS,
]


@pytest.mark.parametrize("case_", CASES)
async def test_a_bad_read_is_refused_with_a_problem(
    shared: SharedReads, targets: Targets, case_: Case
) -> None:
    params = tuple(
        (name, _cursor_value(targets, targets.fill(value))) for name, value in case_.params
    )
    # As bytes, so that a header can carry what an HTTP client would send but httpx's str won't.
    headers = {name.encode(): targets.fill(value).encode() for name, value in case_.headers.items()}

    response = await shared.reader.get(targets.fill(case_.path), params=params, headers=headers)

    assert_problem(response, case_.status, case_.field_name)


def _cursor_value(targets: Targets, value: str) -> str:
    if value == "SWAPCASE":
        return targets.cursor.swapcase()
    if value == "SHORTER":
        return targets.cursor[:-1]
    return value


# -- operator-shaped values that are valid text are compared as literals ----------------------


@pytest.mark.parametrize(
    ("name_prefix", "expected"),
    [
        pytest.param(".*", [".* star"], id="dot star"),
        pytest.param(".", [".* star"], id="dot"),
        pytest.param("$where", ["$where clause"], id="$where"),
        pytest.param("$", ["$where clause"], id="dollar"),
        pytest.param("\\", ["\\backslash"], id="backslash"),
        pytest.param("[A-Z]", ["[A-Z] bracket"], id="character class"),
        pytest.param("^Ada", [], id="caret"),
        pytest.param("Ada|Bob", [], id="alternation"),
        pytest.param("(?i)ada", [], id="inline flag"),
        pytest.param("A.a", [], id="dot inside"),
        pytest.param("\\w", [], id="escape sequence"),
        pytest.param('{"$ne": null}', [], id="operator object"),
        pytest.param("Ada", ["Ada Lovelace"], id="a plain prefix still matches"),
    ],
)
@pytest.mark.usefixtures("targets")
async def test_name_prefix_is_a_literal_prefix_never_a_pattern(
    shared: SharedReads, name_prefix: str, expected: list[str]
) -> None:
    response = await shared.reader.get("/users", params={"name_prefix": name_prefix})

    assert response.status_code == 200, response.text
    assert sorted(item["name"] for item in response.json()["items"]) == expected


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        pytest.param('{"$ne": null}', [], id="$ne null"),
        pytest.param('{"$gt": ""}', [], id="$gt empty"),
        pytest.param('{"$regex": ".*"}', [], id="$regex"),
        pytest.param(".*", [], id="dot star"),
        pytest.param("ada@example.com' || '1'=='1", [], id="injection"),
        pytest.param("*", [], id="star"),
        pytest.param("ADA@example.com", ["Ada Lovelace"], id="the address itself still matches"),
    ],
)
@pytest.mark.usefixtures("targets")
async def test_email_is_an_exact_literal_never_an_operator(
    shared: SharedReads, email: str, expected: list[str]
) -> None:
    response = await shared.reader.get("/users", params={"email": email})

    assert response.status_code == 200, response.text
    assert [item["name"] for item in response.json()["items"]] == expected
