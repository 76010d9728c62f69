"""The expression parser (no network): tree shape, unary minus, errors and limits."""

from __future__ import annotations

import pytest

from calculator.expr import ExpressionError, Node, Number, Operation, parse


def shape(node: Node) -> object:
    if isinstance(node, Number):
        return node.text
    return (node.op, shape(node.left), shape(node.right))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(5+6)*2", ("*", ("+", "5", "6"), "2")),
        ("1-2-3", ("-", ("-", "1", "2"), "3")),
        ("1/2/3", ("/", ("/", "1", "2"), "3")),
        ("1+2*3", ("+", "1", ("*", "2", "3"))),
        ("1*2+3", ("+", ("*", "1", "2"), "3")),
        ("-5", "-5"),
        ("- 5", "-5"),
        ("-05", "-5"),
        ("-0", "0"),
        ("+5", "5"),
        ("--5", ("-", "0", "-5")),
        ("-(5)", ("-", "0", "5")),
        ("-(1+2)", ("-", "0", ("+", "1", "2"))),
        ("2*-3", ("*", "2", "-3")),
        ("-2*3", ("*", "-2", "3")),
        ("2-(-3)", ("-", "2", "-3")),
        ("12345678901234567890123", "12345678901234567890123"),
    ],
)
def test_tree_shape(text: str, expected: object) -> None:
    assert shape(parse(text)) == expected


def test_error_positions_are_one_based() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse("  (1 + )")
    assert caught.value.position == 8
    assert str(caught.value) == "expected a number or '(', found ')' at position 8"


@pytest.mark.parametrize(
    ("text", "kwargs", "fragment"),
    [
        ("", {}, "empty expression"),
        (" \t\n", {}, "empty expression"),
        ("((1))", {"max_depth": 1}, "nesting deeper than 1"),
        ("---1", {"max_depth": 1}, "nesting deeper than 1"),
        ("123", {"max_digits": 2}, "longer than 2 digits"),
        ("1+2+3", {"max_operations": 1}, "too many operations"),
        ("-(1)", {"max_operations": 0}, "too many operations"),
    ],
)
def test_limits(text: str, kwargs: dict[str, int], fragment: str) -> None:
    with pytest.raises(ExpressionError, match=fragment.replace("(", r"\(")):
        parse(text, **kwargs)


def count_operations(node: Node) -> int:
    count = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Operation):
            count += 1
            stack.extend((item.left, item.right))
    return count


def test_deep_left_chain_is_not_recursive() -> None:
    tree = parse("1" + "+1" * 5000, max_operations=10_000)
    assert isinstance(tree, Operation)
    assert count_operations(tree) == 5000


def test_depth_ceiling() -> None:
    parse("(" * 200 + "1" + ")" * 200, max_depth=10_000)
    with pytest.raises(ExpressionError, match="nesting deeper than 200"):
        parse("(" * 201 + "1" + ")" * 201, max_depth=10_000)
