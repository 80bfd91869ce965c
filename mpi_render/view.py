"""The view of a run as exact decimals: centre and width at any depth (DESIGN.md, "Deep views").

A view value is a JSON number (as before) or a decimal string ``[+-]?digits[.digits][e[+-]digits]``
of at most :data:`MAX_CHARS` characters. A :class:`View` keeps each value **as it was given** (a
string stays a string, digit for digit; a number stays a float) and compares by exact value, so
``"-0.75"``, ``"-75e-2"`` and ``-0.75`` are one view. Nothing here goes through a float except
:meth:`View.floats`, which the double kernel uses.

Exact values are :class:`fractions.Fraction`. A JSON number means the decimal it prints as
(``repr``), which for every float is the shortest decimal that reads back as the same float, so
``0.1`` and ``"0.1"`` are the same value.

Limits (each a clear ``ValueError``): at most :data:`MAX_CHARS` characters; every value below
``1e300`` in magnitude (so its float is finite); a non-zero value's decimal exponent at least
:data:`MIN_EXPONENT` (``1e-5000``: deeper than the 5,000 digits a value may spell out, and it
keeps a hostile ``1e-999999999`` from building a billion-digit fraction); ``width > 0``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Union

MAX_CHARS = 5000
MIN_EXPONENT = -5000  # the smallest non-zero magnitude is 10**MIN_EXPONENT
MAX_MAGNITUDE = Fraction(10) ** 300
DECIMAL_RE = re.compile(r"^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$")

ViewValue = Union[str, float]


def parse_decimal(name: str, value) -> Fraction:
    """The exact value of a view value (a decimal string or a finite JSON number).

    >>> parse_decimal("width", "1.5e-3"), parse_decimal("cx", -0.75)
    (Fraction(3, 2000), Fraction(-3, 4))

    Raises:
        ValueError: not a number or a decimal string, malformed, NaN/Inf, too long, out of
            range; the message names ``name``.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number or a decimal string, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        exact = Fraction(repr(float(value)))
    elif isinstance(value, str):
        exact = _parse_string(name, value)
    else:
        raise ValueError(f"{name} must be a number or a decimal string, got {value!r}")
    if abs(exact) >= MAX_MAGNITUDE:
        raise ValueError(f"{name} must be below 1e300 in magnitude, got {_short(value)}")
    return exact


def _parse_string(name: str, text: str) -> Fraction:
    if len(text) > MAX_CHARS:
        raise ValueError(f"{name} has {len(text)} characters; a view value may have at most "
                         f"{MAX_CHARS}")
    match = DECIMAL_RE.match(text)
    if match is None:
        raise ValueError(f"{name} must be a decimal like -0.75, 1.7e-157 or "
                         f"\"-1.9999661944503703041843\", got {_short(text)}")
    _, whole, fraction, exponent = match.groups()
    digits = (whole + (fraction or "")).lstrip("0")
    if not digits:
        return Fraction(0)
    scale = int(exponent or "0") - len(fraction or "")
    # the decimal exponent of the leading digit, checked before any big power is built
    leading = scale + len(digits) - 1
    if leading < MIN_EXPONENT:
        raise ValueError(f"{name} is below 1e{MIN_EXPONENT} in magnitude (the deepest view "
                         f"mpi-render renders), got {_short(text)}")
    if leading >= 300:
        raise ValueError(f"{name} must be below 1e300 in magnitude, got {_short(text)}")
    # through Decimal: int(str) refuses more than 4,300 digits (CPython's conversion guard)
    return Fraction(Decimal(text))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(text)} characters)"


def as_given(value) -> ViewValue:
    """A view value as it is kept and returned: strings unchanged, numbers as float."""
    return value if isinstance(value, str) else float(value)


def text(value: ViewValue) -> str:
    """A view value as command-line text (strings unchanged, floats by ``repr``)."""
    return value if isinstance(value, str) else repr(value)


@dataclass(frozen=True, eq=False)
class View:
    """Centre ``(cx, cy)`` and width of the whole square image, exact.

    Attributes:
        cx, cy, width: the values as given (``str`` or ``float``).
        exact: ``(cx, cy, width)`` as :class:`~fractions.Fraction` (what equality compares).

    Raises:
        ValueError: a malformed value, or ``width <= 0`` (the message names the field).
    """

    cx: ViewValue
    cy: ViewValue
    width: ViewValue
    exact: tuple[Fraction, Fraction, Fraction] = field(init=False, repr=False)

    def __post_init__(self):
        values = {name: as_given(_checked_type(name, getattr(self, name)))
                  for name in ("cx", "cy", "width")}
        exact = tuple(parse_decimal(name, value) for name, value in values.items())
        if exact[2] <= 0:
            raise ValueError(f"width must be positive, got {_short(values['width'])}")
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "exact", exact)

    def __eq__(self, other) -> bool:
        return isinstance(other, View) and self.exact == other.exact

    def __hash__(self) -> int:
        return hash(self.exact)

    def json(self) -> dict:
        """``{"cx", "cy", "width"}`` as given (the run config's ``view``)."""
        return {"cx": self.cx, "cy": self.cy, "width": self.width}

    def floats(self) -> tuple[float, float, float]:
        """``(cx, cy, width)`` rounded to the nearest doubles (the double kernel's view)."""
        return tuple(float(value) for value in self.exact)

    def pitch(self, image_px: int) -> Fraction:
        """The exact pixel pitch ``width / image_px`` (complex-plane units per pixel)."""
        return self.exact[2] / image_px

    def center_text(self) -> str:
        """``CX,CY`` for ``--center=`` (strings as given, floats by ``repr``)."""
        return f"{text(self.cx)},{text(self.cy)}"

    def width_text(self) -> str:
        """The width for ``--width`` (as given, or ``repr`` of the float)."""
        return text(self.width)

    def describe(self) -> str:
        """``centre CX, CY, width W`` with the values as given, digit for digit (logs and
        summaries: a deep view's coordinates must be copyable from them)."""
        return f"centre {text(self.cx)}, {text(self.cy)}, width {text(self.width)}"


def _checked_type(name: str, value):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{name} must be a number or a decimal string, got {value!r}")
    return value
