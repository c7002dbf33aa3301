"""Exact values of numeracy operands and their canonical writing (decimals, fractions, scientific)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from arithlens.errors import ArithlensError

# ---------------------------------------------------------------- exact values and writing


def write_decimal(x: Decimal) -> str:
    """A decimal's canonical text: no exponent, no trailing zeros after the point, no
    trailing point, ``-`` for negatives, ``0`` for zero.

    Example:
        >>> write_decimal(Decimal("12.300")), write_decimal(Decimal("1.2E+3")), write_decimal(Decimal("-0.0"))
        ('12.3', '1200', '0')
    """
    if x == 0:
        return "0"
    sign, digits, exp = x.normalize().as_tuple()
    s = "".join(map(str, digits))
    assert isinstance(exp, int)
    if exp >= 0:
        s = s + "0" * exp
    else:
        s = s.rjust(-exp + 1, "0")
        s = s[:exp] + "." + s[exp:]
    return ("-" if sign else "") + s


def write_fraction(x: Fraction) -> str:
    """``p/q`` reduced, the sign on the numerator (``-1/6``), ``3/1`` for integers."""
    return f"{x.numerator}/{x.denominator}"


def write_sci(x: Decimal) -> str:
    """Scientific notation: mantissa ``d`` or ``d.ddd`` (no trailing zeros), ``e``, exponent.

    Example:
        >>> write_sci(Decimal("12300")), write_sci(Decimal("0.05")), write_sci(Decimal("7"))
        ('1.23e4', '5e-2', '7e0')
    """
    if x == 0:
        return "0e0"
    sign, digits, exp = x.normalize().as_tuple()
    assert isinstance(exp, int)
    e = exp + len(digits) - 1
    mant = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return ("-" if sign else "") + f"{mant}e{e}"


def value(text: str) -> Fraction:
    """The exact value of a number written in any representation (``12``, ``9.11``, ``3/7``,
    ``1.23e4``)."""
    try:
        if "/" in text:
            p, q = text.split("/")
            return Fraction(int(p), int(q))
        return Fraction(Decimal(text))
    except (ValueError, ArithmeticError):
        raise ArithlensError(f"number {text!r} is not an int, float, fraction or sci") from None


def _dec(x: Fraction) -> Decimal:
    """A fraction with a finite decimal expansion as a Decimal (exact)."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(x.numerator) / Decimal(x.denominator)
    if Fraction(d) != x:
        raise ArithlensError(f"{x} has no finite decimal expansion")
    return d


def round_sig(x: Decimal, k: int) -> Decimal:
    """``x`` rounded to ``k`` significant digits, half up (schoolbook rounding).

    Example:
        >>> write_decimal(round_sig(Decimal("12345"), 2)), write_decimal(round_sig(Decimal("0.04567"), 2))
        ('12000', '0.046')
    """
    if x == 0:
        return x
    e = x.adjusted() - k + 1
    return x.quantize(Decimal(1).scaleb(e), rounding=ROUND_HALF_UP)
