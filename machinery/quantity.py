"""Kubernetes resource quantities ("100m", "1.5Gi", "1e3") as exact decimals.

The scheduler sums requests against allocatable, the kubelet turns limits into
Docker's nano-CPUs and bytes, quota adds them up, and the API server stores
them in canonical form so ``kubectl get -o yaml`` prints what Kubernetes
would ("1.5" is stored as "1500m", "0.5Gi" as "512Mi"). All of that needs
fixed-point arithmetic, never floats, and the same rounding rules as
``k8s.io/apimachinery/pkg/api/resource``:

* the number is ``[+-]digits[.digits]`` followed by a suffix that is decimal
  SI (``n u m "" k M G T P E``), binary SI (``Ki Mi Gi Ti Pi Ei``) or a
  decimal exponent (``e3``, ``E-2``);
* precision finer than 1n is rounded up (away from zero) to 1n, so asking for
  a tiny amount still asks for something;
* binary SI magnitudes are capped at 2^63-1, and a binary value below 1 is
  reformatted as decimal SI;
* the canonical string keeps the input's suffix family, uses the largest
  suffix that leaves an integer mantissa, and drops to decimal SI when a
  binary form would need a fraction.

Unlike Kubernetes, a bare sign or a lone "." (which it reads as zero) is
rejected, and exponents beyond +-150 are refused rather than carried.
"""

from __future__ import annotations

import re
from decimal import ROUND_UP, Context, Decimal
from functools import total_ordering
from typing import Union

__all__ = [
    "DECIMAL_SI",
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "Quantity",
    "parse_quantity",
    "format_quantity",
    "canonicalize",
    "cpu_millis",
    "memory_bytes",
    "is_valid",
]

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"
_FORMATS = (DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT)

# Plenty of digits for int64 magnitudes at nano precision plus room for sums.
_CTX = Context(prec=200)
_MAX_EXPONENT = 150
_NANO = Decimal("1e-9")
_MAX_BINARY = Decimal(2**63 - 1)
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_DECIMAL_BY_EXP = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}  # powers of 1024
_BINARY_BY_POWER = {power: suffix for suffix, power in _BINARY_SUFFIXES.items()} | {0: ""}
_SYNTAX = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[+-]?[0-9]*)")
_EXPONENT = re.compile(r"[eE]([+-]?[0-9]+)")
_ERR_FORMAT = ("quantities must match the regular expression "
               "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

QuantityLike = Union["Quantity", Decimal, str, int, float]


def _interpret_suffix(suffix: str) -> tuple[Decimal, str]:
    """The multiplier a suffix stands for and the format family it implies."""
    if suffix in _DECIMAL_SUFFIXES:
        return Decimal(1).scaleb(_DECIMAL_SUFFIXES[suffix]), DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return Decimal(1024 ** _BINARY_SUFFIXES[suffix]), BINARY_SI
    match = _EXPONENT.fullmatch(suffix)
    if match is None:
        raise ValueError(f"unable to parse quantity's suffix {suffix!r}")
    exponent = int(match.group(1))
    if abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is out of range")
    return Decimal(1).scaleb(exponent), DECIMAL_EXPONENT


def _round_nano(value: Decimal) -> Decimal:
    """Round the magnitude up to a whole nano-unit, Kubernetes' smallest step."""
    if int(value.as_tuple().exponent) >= -9:
        return value
    return value.quantize(_NANO, rounding=ROUND_UP, context=_CTX)


def _parse(text: str) -> tuple[Decimal, str]:
    s = text.strip()
    match = _SYNTAX.fullmatch(s)
    if not s or match is None:
        raise ValueError(f"invalid quantity {text!r}: {_ERR_FORMAT}")
    sign, whole, frac, suffix = match.groups()
    if not whole and not frac:
        raise ValueError(f"invalid quantity {text!r}: unable to parse numeric part of quantity")
    try:
        multiplier, fmt = _interpret_suffix(suffix)
    except ValueError as exc:
        raise ValueError(f"invalid quantity {text!r}: {exc}") from None
    number = Decimal(f"{sign}{whole or '0'}.{frac or '0'}")
    value = _round_nano(_CTX.multiply(number, multiplier))
    if fmt == BINARY_SI:
        if abs(value) > _MAX_BINARY:
            value = _MAX_BINARY.copy_sign(value)
        if 0 < abs(value) < 1:
            fmt = DECIMAL_SI
    if value.adjusted() > _MAX_EXPONENT:
        raise ValueError(f"invalid quantity {text!r}: too large")
    return value, fmt


def _coerce(q: QuantityLike) -> tuple[Decimal, str]:
    if isinstance(q, Quantity):
        return q.value, q.format
    if isinstance(q, bool):
        raise ValueError(f"invalid quantity {q!r}: a boolean is not a number")
    if isinstance(q, (int, Decimal)):
        if isinstance(q, Decimal) and not q.is_finite():
            raise ValueError(f"invalid quantity {q!r}: not a finite number")
        return _parse(str(q))
    if isinstance(q, float):
        if q != q or q in (float("inf"), float("-inf")):
            raise ValueError(f"invalid quantity {q!r}: not a finite number")
        return _parse(repr(q))
    if isinstance(q, str):
        return _parse(q)
    raise ValueError(f"invalid quantity {q!r}: expected a string or a number")


@total_ordering
class Quantity:
    """A parsed quantity: its exact value plus the format family it prints in.

    Equality and ordering look at the value only ("1Gi" == "1073741824"),
    as ``Quantity.Cmp`` does; sums keep the left operand's format unless it
    is zero, as ``Quantity.Add`` does.
    """

    __slots__ = ("value", "format")

    def __init__(self, value: Decimal | int = 0, format: str = DECIMAL_SI) -> None:
        if format not in _FORMATS:
            raise ValueError(f"unknown quantity format {format!r}")
        self.value = Decimal(value)
        self.format = format

    @classmethod
    def parse(cls, q: QuantityLike) -> Quantity:
        value, fmt = _coerce(q)
        return cls(value, fmt)

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        if isinstance(other, (Decimal, int)) and not isinstance(other, bool):
            return self.value == other
        return NotImplemented

    def __lt__(self, other: Quantity | Decimal | int) -> bool:
        return self.value < (other.value if isinstance(other, Quantity) else other)

    def __hash__(self) -> int:
        return hash(self.value)

    def __add__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.value == 0 else self.format
        return Quantity(_CTX.add(self.value, other.value), fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.value == 0 else self.format
        return Quantity(_CTX.subtract(self.value, other.value), fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.format)

    def __bool__(self) -> bool:
        return self.value != 0


def parse_quantity(s: QuantityLike) -> Decimal:
    """The exact value of a quantity; ValueError (with the reason) on bad input."""
    return _coerce(s)[0]


def _decimal_parts(value: Decimal) -> tuple[int, int]:
    """(mantissa, exponent) with the exponent a multiple of 3 and as large as possible."""
    sign, digits, exp = value.normalize(_CTX).as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    exponent = int(exp)
    shift = exponent % 3
    mantissa *= 10 ** shift
    exponent -= shift
    return (-mantissa if sign else mantissa), exponent


def format_quantity(value: Decimal | int, fmt: str = DECIMAL_SI) -> str:
    """The canonical Kubernetes string for ``value`` in the given format family."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown quantity format {fmt!r}")
    value = _round_nano(Decimal(value))
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if abs(value) < 1024 or value != value.to_integral_value():
            fmt = DECIMAL_SI
        else:
            mantissa, power = int(value), 0
            while power < 6 and mantissa % 1024 == 0:
                mantissa //= 1024
                power += 1
            return f"{mantissa}{_BINARY_BY_POWER[power]}"
    mantissa, exponent = _decimal_parts(value)
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    if exponent > 18:
        mantissa, exponent = mantissa * 10 ** (exponent - 18), 18
    return f"{mantissa}{_DECIMAL_BY_EXP[exponent]}"


def canonicalize(s: QuantityLike) -> str:
    """Re-spell a quantity the way the API server stores it ("1.5" -> "1500m")."""
    return str(Quantity.parse(s))


def _scaled_ceil(q: QuantityLike, scale: int) -> int:
    value = _CTX.multiply(parse_quantity(q), Decimal(scale))
    return int(value.to_integral_value(rounding=ROUND_UP, context=_CTX))


def cpu_millis(q: QuantityLike) -> int:
    """Millicores, rounded away from zero like ``Quantity.MilliValue``."""
    return _scaled_ceil(q, 1000)


def memory_bytes(q: QuantityLike) -> int:
    """Whole bytes (or units), rounded away from zero like ``Quantity.Value``."""
    return _scaled_ceil(q, 1)


def is_valid(s: object) -> bool:
    """Whether ``s`` parses as a quantity."""
    try:
        _coerce(s)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True
