"""Exact numbers exchanged between the services.

Every value on the wire is an exact rational number written as text: an integer (``-12``)
or a fraction in lowest terms with a positive denominator (``-7/2``). Operators accept
operands in that form (a leading ``+`` and non-reduced fractions are accepted too) and
always answer in the canonical form.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

DEFAULT_MAX_DIGITS = 4000

_OPERAND = re.compile(r"[+-]?[0-9]+(?:/[0-9]+)?", re.ASCII)
_LOG10_2 = math.log10(2)


class NumberError(ValueError):
    """An operand or a result that cannot be accepted."""


class TooLarge(NumberError):
    """A number with more digits than allowed."""


def parse_operand(text: str, max_digits: int = DEFAULT_MAX_DIGITS) -> int | Fraction:
    """Parse ``N`` (an int) or ``N/D`` (a Fraction); N, D decimal integers, N optionally signed."""
    if _OPERAND.fullmatch(text) is None:
        raise NumberError(f"not a number: {shorten(text)!r}")
    numerator, _, denominator = text.partition("/")
    if len(numerator) > max_digits and len(numerator.lstrip("+-")) > max_digits:
        raise TooLarge(f"number longer than {max_digits} digits")
    if not denominator:
        return int(numerator)
    if len(denominator) > max_digits:
        raise TooLarge(f"number longer than {max_digits} digits")
    den = int(denominator)
    if den == 0:
        raise NumberError(f"zero denominator in {shorten(text)!r}")
    return Fraction(int(numerator), den)


def _too_many_digits(value: int, max_digits: int) -> bool:
    bits = value.bit_length()
    if bits < 64:
        return max_digits < 20 and len(str(abs(value))) > max_digits
    lower = math.floor((bits - 1) * _LOG10_2) + 1
    upper = math.floor(bits * _LOG10_2) + 1
    if lower > max_digits:
        return True
    if upper <= max_digits:
        return False
    return len(str(abs(value))) > max_digits


def format_number(value: int | Fraction, max_digits: int = DEFAULT_MAX_DIGITS) -> str:
    """Canonical text of ``value``; raises TooLarge instead of producing a huge answer."""
    if isinstance(value, int):
        numerator, denominator = value, 1
    else:
        numerator, denominator = value.numerator, value.denominator
    if _too_many_digits(numerator, max_digits) or _too_many_digits(denominator, max_digits):
        raise TooLarge(f"result longer than {max_digits} digits")
    if denominator == 1:
        return str(numerator)
    return f"{numerator}/{denominator}"


_CANONICAL = re.compile(r"(?:0|-?[1-9][0-9]*)(?:/(?:[2-9]|[1-9][0-9]+))?", re.ASCII)


def is_canonical_text(text: str, max_digits: int = DEFAULT_MAX_DIGITS) -> bool:
    """Cheap syntactic check of a number received from an operator (no arithmetic)."""
    if _CANONICAL.fullmatch(text) is None:
        return False
    if len(text) <= max_digits:
        return True
    numerator, _, denominator = text.partition("/")
    return len(numerator.lstrip("-")) <= max_digits and len(denominator) <= max_digits


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for messages."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 15]}...({len(text)} chars)"
