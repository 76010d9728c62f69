"""Arithmetic expressions: tokenizer and recursive-descent parser producing a tree.

Grammar (whitespace allowed between any two tokens)::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := NUMBER | "(" expression ")"

Binary operators are left-associative; ``*`` and ``/`` bind tighter than ``+`` and ``-``.
Nothing is computed here: unary minus applied to a number literal becomes a negative
literal (its text gets a ``-``), unary minus applied to anything else becomes the
subtraction ``0 - x`` (an operator call); unary plus is the identity.

Tokens are found by one regular expression; the tree records token indexes, turned into
1-based character positions only when one is needed (``position_of``), for error messages.
"""

from __future__ import annotations

import re

DEFAULT_MAX_DEPTH = 100
DEFAULT_MAX_OPERATIONS = 1000
DEFAULT_MAX_DIGITS = 4000
MAX_DEPTH_CEILING = 200

OPERATORS = {"+": "sum", "-": "sub", "*": "mul", "/": "div"}

_TOKEN = re.compile(r"[0-9]+|[-+*/()]", re.ASCII)
_INVALID = re.compile(r"[^0-9+\-*/()\s]", re.ASCII)


class ExpressionError(ValueError):
    """A rejected expression; ``position`` is 1-based (None when not about one place)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} at position {self.position}"


class Number:
    """A literal; ``text`` is its canonical decimal text (possibly negative)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Number({self.text!r})"


class Operation:
    """``left op right``; ``token`` is the index of the operator (or unary minus) token."""

    __slots__ = ("left", "op", "right", "token")

    def __init__(self, op: str, left: Node, right: Node, token: int) -> None:
        self.op = op
        self.left = left
        self.right = right
        self.token = token

    def __repr__(self) -> str:
        return f"Operation({self.op!r}, {self.left!r}, {self.right!r})"


Node = Number | Operation


def position_of(text: str, token: int) -> int:
    """1-based character position of token number ``token`` of ``text`` (past the end:
    one more than the length)."""
    for index, found in enumerate(_TOKEN.finditer(text)):
        if index == token:
            return found.start() + 1
    return len(text) + 1


class _Failure(Exception):
    """A parse error at token ``token``; ``{}`` in the message is the position of token
    ``opening``, when given."""

    def __init__(self, message: str, token: int, opening: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.token = token
        self.opening = opening


def _describe(token: str) -> str:
    if not token:
        return "end of expression"
    if token[0].isdigit():
        return f"number {token[:20]}"
    return repr(token)


def _literal(digits: str, negative: bool) -> Number:
    if digits[0] == "0":
        digits = digits.lstrip("0") or "0"
    if negative and digits != "0":
        return Number("-" + digits)
    return Number(digits)


class _Parser:
    def __init__(
        self, tokens: list[str], max_depth: int, max_operations: int, max_digits: int
    ) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.max_depth = max_depth
        self.max_operations = max_operations
        self.max_digits = max_digits
        self.operations = 0

    def count_operation(self, token: int) -> None:
        self.operations += 1
        if self.operations > self.max_operations:
            raise _Failure(
                f"too many operations (at most {self.max_operations} per expression)", token
            )

    def enter(self, token: int) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise _Failure(f"nesting deeper than {self.max_depth} levels", token)

    def number(self, token: int) -> str:
        digits = self.tokens[token]
        if len(digits) > self.max_digits:
            raise _Failure(f"number longer than {self.max_digits} digits", token)
        return digits

    def expression(self) -> Node:
        node = self.term()
        tokens = self.tokens
        while (op := tokens[self.index]) == "+" or op == "-":
            index = self.index
            self.index += 1
            self.count_operation(index)
            node = Operation(op, node, self.term(), index)
        return node

    def term(self) -> Node:
        node = self.unary()
        tokens = self.tokens
        while (op := tokens[self.index]) == "*" or op == "/":
            index = self.index
            self.index += 1
            self.count_operation(index)
            node = Operation(op, node, self.unary(), index)
        return node

    def unary(self) -> Node:
        index = self.index
        sign = self.tokens[index]
        if sign != "-" and sign != "+":
            return self.primary()
        self.index += 1
        after = self.tokens[self.index]
        if sign == "-" and after[:1].isdigit():
            # "-5" is a negative literal: sent to the operators as text, nothing computed.
            self.index += 1
            return _literal(self.number(index + 1), True)
        self.enter(index)
        operand = self.unary()
        self.depth -= 1
        if sign == "+":
            return operand
        # Minus of anything else is the subtraction 0 - x, done by the sub service.
        self.count_operation(index)
        return Operation("-", Number("0"), operand, index)

    def primary(self) -> Node:
        index = self.index
        token = self.tokens[index]
        self.index += 1
        if token[:1].isdigit():
            return _literal(self.number(index), False)
        if token == "(":
            self.enter(index)
            node = self.expression()
            closing = self.tokens[self.index]
            if closing != ")":
                raise _Failure(
                    f"expected ')' to close '(' at position {{}}, found {_describe(closing)}",
                    self.index,
                    index,
                )
            self.index += 1
            self.depth -= 1
            return node
        raise _Failure(f"expected a number or '(', found {_describe(token)}", index)


def parse(
    text: str,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_operations: int = DEFAULT_MAX_OPERATIONS,
    max_digits: int = DEFAULT_MAX_DIGITS,
) -> Node:
    """Parse ``text`` into a tree, or raise ExpressionError with the error's position."""
    invalid = _INVALID.search(text)
    if invalid is not None:
        char = invalid.group()
        shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
        raise ExpressionError(f"unexpected character {shown}", invalid.start() + 1)
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise ExpressionError("empty expression")
    tokens.append("")  # end marker
    parser = _Parser(tokens, min(max_depth, MAX_DEPTH_CEILING), max_operations, max_digits)
    try:
        node = parser.expression()
        end = tokens[parser.index]
        if end:
            if end == ")":
                raise _Failure("unbalanced ')'", parser.index)
            raise _Failure(f"expected an operator, found {_describe(end)}", parser.index)
    except _Failure as failure:
        message = failure.message
        if failure.opening is not None:
            message = message.format(position_of(text, failure.opening))
        raise ExpressionError(message, position_of(text, failure.token)) from None
    return node
