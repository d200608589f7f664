import pytest

from eventstore.position import START, InvalidPosition, Position

LARGEST = 2**63 - 1  # xid8 and bigint both stop here


@pytest.mark.parametrize(
    "position",
    [Position(0, 0), Position(1, 2), Position(812, 7), Position(LARGEST, LARGEST)],
    ids=str,
)
def test_a_token_parses_back_to_its_position(position: Position) -> None:
    assert Position.parse(str(position)) == position


def test_a_token_is_the_transaction_id_then_the_position() -> None:
    assert str(Position(812, 7)) == "812-7"
    assert Position.parse("812-7") == Position(transaction_id=812, position=7)


def test_positions_order_by_transaction_first() -> None:
    # A later transaction may hold a smaller position: it still comes after (guarantee 1).
    assert Position(1, 100) < Position(2, 5)
    assert Position(2, 5) > Position(1, 100)
    assert not Position(2, 5) < Position(1, 100)


def test_positions_within_one_transaction_order_by_position() -> None:
    assert Position(3, 4) < Position(3, 5)
    assert Position(3, 5) >= Position(3, 4)
    assert Position(3, 5) <= Position(3, 5)
    assert not Position(3, 5) < Position(3, 5)


def test_sorting_follows_the_subscriber_order() -> None:
    shuffled = [Position(2, 1), Position(1, 9), START, Position(2, 0), Position(1, 10)]
    assert sorted(shuffled) == [
        START,
        Position(1, 9),
        Position(1, 10),
        Position(2, 0),
        Position(2, 1),
    ]


def test_start_comes_before_every_position() -> None:
    assert Position(0, 1) > START
    assert Position(1, 0) > START
    assert min(Position(5, 5), START) == START


def test_equal_positions_are_interchangeable() -> None:
    assert Position(4, 2) == Position.parse("4-2")
    assert len({Position(4, 2), Position.parse("4-2")}) == 1


def test_a_position_does_not_compare_with_other_types() -> None:
    with pytest.raises(TypeError):
        _ = Position(1, 1) < "1-2"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("1", id="one number"),
        pytest.param("a-b", id="letters"),
        pytest.param("1-2-3", id="three numbers"),
        pytest.param("-1-2", id="negative transaction"),
        pytest.param("1--2", id="negative position"),
        pytest.param("1-", id="missing position"),
        pytest.param("-1", id="missing transaction"),
        pytest.param("-", id="only a dash"),
        pytest.param(" 1-2", id="leading space"),
        pytest.param("01-2", id="leading zero in the transaction"),
        pytest.param("1-02", id="leading zero in the position"),
        pytest.param("1-2\n", id="trailing newline"),
        pytest.param("+1-2", id="plus sign"),
        pytest.param("1_000-2", id="underscore"),
        pytest.param("1.0-2", id="decimal point"),
        pytest.param("0x1-2", id="hexadecimal"),
        pytest.param("1:2", id="other separator"),
        pytest.param("\u0661-\u0662", id="arabic-indic digits"),
        pytest.param("\u00b2-1", id="superscript digit"),
        pytest.param("\uff11-\uff12", id="fullwidth digits"),
        pytest.param(f"{2**63}-0", id="transaction past bigint"),
        pytest.param(f"0-{2**63}", id="position past bigint"),
        pytest.param("9" * 19 + "-1", id="nineteen nines"),
        pytest.param("1" * 20 + "-1", id="twenty digits"),
        pytest.param("1-" + "9" * 5000, id="five thousand digits"),
    ],
)
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidPosition, match="not a position token"):
        Position.parse(token)


def test_a_refused_token_is_a_value_error_with_a_bounded_message() -> None:
    with pytest.raises(ValueError, match="not a position token") as refused:
        Position.parse("x" * 10_000)
    assert len(str(refused.value)) < 100
