"""Property-based tests: random expression trees, rendered to text with random layout, are
evaluated by the running services and compared with an independent Fraction evaluation."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc_support import Cluster, call
from calculator.expr import Node, Number, Operation, parse

# A tree is an int (a literal), ("neg", tree) or (op, left, right).
Tree = int | tuple[str, "Tree"] | tuple[str, "Tree", "Tree"]

PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
SPACES = st.sampled_from(["", "", "", " ", "  ", "\t", "\n", " \r\n "])

literals = st.one_of(
    st.integers(min_value=-20, max_value=20),
    st.integers(min_value=-(10**30), max_value=10**30),
)
trees: st.SearchStrategy[Tree] = st.recursive(
    literals,
    lambda children: st.one_of(
        st.tuples(st.sampled_from("+-*/"), children, children),
        st.tuples(st.just("neg"), children),
    ),
    max_leaves=24,
)


def evaluate(tree: Tree) -> Fraction:
    """Reference semantics (raises ZeroDivisionError)."""
    if isinstance(tree, int):
        return Fraction(tree)
    if len(tree) == 2:
        return -evaluate(tree[1])
    op, left, right = tree
    a, b = evaluate(left), evaluate(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b


def precedence(tree: Tree) -> int:
    if isinstance(tree, int) or len(tree) == 2:
        return 3
    return PRECEDENCE[tree[0]]


@st.composite
def rendered(draw: st.DrawFn, tree: Tree) -> str:
    """``tree`` as text, with random spacing and redundant parentheses."""

    def space() -> str:
        return draw(SPACES)

    def wrap(text: str, needed: bool) -> str:
        if needed or draw(st.integers(0, 6)) == 0:
            return f"({space()}{text}{space()})"
        return text

    def render(node: Tree) -> str:
        if isinstance(node, int):
            return f"-{space()}{-node}" if node < 0 else str(node)
        if len(node) == 2:
            child = node[1]
            return f"-{space()}{wrap(render(child), precedence(child) < 3)}"
        op, left, right = node
        level = PRECEDENCE[op]
        left_text = wrap(render(left), precedence(left) < level)
        right_text = wrap(render(right), precedence(right) <= level)
        return f"{left_text}{space()}{op}{space()}{right_text}"

    return f"{space()}{render(tree)}{space()}"


def expected_text(value: Fraction) -> str:
    if value.denominator == 1:
        return f"result = {value.numerator}"
    return f"result = {value.numerator}/{value.denominator}"


def local_value(node: Node) -> Fraction:
    """Evaluate a parsed tree locally (test oracle for the parser alone)."""
    if isinstance(node, Number):
        return Fraction(node.text)
    assert isinstance(node, Operation)
    a, b = local_value(node.left), local_value(node.right)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    return a / b


@pytest.fixture(scope="module")
def connection(services: Cluster) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", services.ports["calculator"], timeout=30)
    yield conn
    conn.close()


@settings(max_examples=300, deadline=None)
@given(data=st.data(), tree=trees)
def test_parser_matches_reference(data: st.DataObject, tree: Tree) -> None:
    text = data.draw(rendered(tree))
    try:
        expected = evaluate(tree)
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            local_value(parse(text))
        return
    assert local_value(parse(text)) == expected


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), tree=trees)
def test_front_end_matches_reference(
    connection: http.client.HTTPConnection, data: st.DataObject, tree: Tree
) -> None:
    text = data.draw(rendered(tree))
    answer = call(0, text, connection=connection)
    try:
        expected = evaluate(tree)
    except ZeroDivisionError:
        assert answer.status == 422, (text, answer.text)
        assert "division by zero" in answer.text
        return
    assert (answer.status, answer.text) == (200, expected_text(expected)), text


fractions = st.fractions(max_denominator=10**12).filter(lambda f: abs(f) < 10**40)


def operand_text(value: Fraction, scale: int) -> str:
    """A possibly non-reduced textual form of ``value``."""
    if value.denominator == 1 and scale == 1:
        return str(value.numerator)
    return f"{value.numerator * scale}/{value.denominator * scale}"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    role=st.sampled_from(["sum", "sub", "mul", "div"]),
    a=fractions,
    b=fractions,
    scale=st.integers(1, 5),
)
def test_operators_are_exact(
    services: Cluster, role: str, a: Fraction, b: Fraction, scale: int
) -> None:
    answer = call(services.ports[role], f"{operand_text(a, scale)} {operand_text(b, 1)}")
    if role == "div" and b == 0:
        assert answer.status == 422
        return
    value = {"sum": a + b, "sub": a - b, "mul": a * b, "div": a / b if b else Fraction(0)}[role]
    assert answer.status == 200
    assert answer.text == expected_text(value).removeprefix("result = ")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    role=st.sampled_from(["calculator", "sum", "div"]),
    body=st.one_of(
        st.binary(max_size=200),
        st.text(alphabet="0123456789+-*/() \t\n.x/", max_size=60).map(str.encode),
    ),
)
def test_any_body_gets_a_clear_answer(services: Cluster, role: str, body: bytes) -> None:
    """Arbitrary bodies never crash a service: a result or a clear client error."""
    answer = call(services.ports[role], body)
    assert answer.status in (200, 400, 422), (body, answer.text)
    if answer.status != 200:
        assert answer.text.startswith("error: ")
    assert call(services.ports[role], method="GET", path="/healthz").status == 200
