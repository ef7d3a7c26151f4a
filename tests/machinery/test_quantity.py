"""Quantities must parse, round and print exactly as apimachinery's resource package."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machinery import quantity
from machinery.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    Quantity,
    canonicalize,
    cpu_millis,
    format_quantity,
    is_valid,
    memory_bytes,
    parse_quantity,
)


def test_exported_members() -> None:
    for name in quantity.__all__:
        assert hasattr(quantity, name), name


@pytest.mark.parametrize("text,value,fmt,canonical", [
    ("0", "0", DECIMAL_SI, "0"),
    ("100m", "0.1", DECIMAL_SI, "100m"),
    ("1.5", "1.5", DECIMAL_SI, "1500m"),
    ("+1", "1", DECIMAL_SI, "1"),
    ("-1.5", "-1.5", DECIMAL_SI, "-1500m"),
    ("1000", "1000", DECIMAL_SI, "1k"),
    ("1k", "1000", DECIMAL_SI, "1k"),
    ("1.5k", "1500", DECIMAL_SI, "1500"),
    ("12M", "12000000", DECIMAL_SI, "12M"),
    ("1E", "1e18", DECIMAL_SI, "1E"),
    ("5n", "5e-9", DECIMAL_SI, "5n"),
    ("1u", "1e-6", DECIMAL_SI, "1u"),
    ("0.1n", "1e-9", DECIMAL_SI, "1n"),  # rounded up to the smallest unit
    ("-0.1n", "-1e-9", DECIMAL_SI, "-1n"),  # away from zero
    ("00100m", "0.1", DECIMAL_SI, "100m"),
    (".5", "0.5", DECIMAL_SI, "500m"),
    ("1.", "1", DECIMAL_SI, "1"),
    ("1.G", "1e9", DECIMAL_SI, "1G"),
    ("2Gi", str(2 * 1024**3), BINARY_SI, "2Gi"),
    ("512Mi", str(512 * 1024**2), BINARY_SI, "512Mi"),
    ("1024Mi", str(1024**3), BINARY_SI, "1Gi"),
    ("0.5Gi", str(512 * 1024**2), BINARY_SI, "512Mi"),
    ("1.5Gi", str(1536 * 1024**2), BINARY_SI, "1536Mi"),
    ("1.5Ki", "1536", BINARY_SI, "1536"),
    ("0.5Ki", "512", BINARY_SI, "512"),  # below 1024: printed as decimal SI
    ("0.1Ki", "102.4", BINARY_SI, "102400m"),
    ("1.1Gi", "1181116006.4", BINARY_SI, "1181116006400m"),  # fraction: decimal SI
    ("20Ei", str(2**63 - 1), BINARY_SI, str(2**63 - 1)),  # capped at int64
    ("-20Ei", str(-(2**63 - 1)), BINARY_SI, str(-(2**63 - 1))),
    ("1e3", "1000", DECIMAL_EXPONENT, "1e3"),
    ("1E3", "1000", DECIMAL_EXPONENT, "1e3"),
    ("12e6", "12000000", DECIMAL_EXPONENT, "12e6"),
    ("1.5e3", "1500", DECIMAL_EXPONENT, "1500"),
    ("1e-3", "0.001", DECIMAL_EXPONENT, "1e-3"),
    ("3E-2", "0.03", DECIMAL_EXPONENT, "30e-3"),
    ("1e+3", "1000", DECIMAL_EXPONENT, "1e3"),
    ("1e-10", "1e-9", DECIMAL_EXPONENT, "1e-9"),
    (" 1 ", "1", DECIMAL_SI, "1"),
])
def test_parse_and_canonical_form(text: str, value: str, fmt: str, canonical: str) -> None:
    q = Quantity.parse(text)
    assert q.value == Decimal(value)
    assert parse_quantity(text) == Decimal(value)
    assert q.format == fmt
    assert str(q) == canonical
    assert canonicalize(canonical) == canonical  # canonical form is a fixed point


def test_binary_below_one_becomes_decimal() -> None:
    q = Quantity.parse("0.0000001Ki")
    assert q.format == DECIMAL_SI
    assert str(q) == "102400n"


@pytest.mark.parametrize("number,value,canonical", [
    (2, "2", "2"),
    (0.25, "0.25", "250m"),
    (1e-05, "0.00001", "10e-6"),  # repr is exponent form, as the JSON text would be
    (Decimal("1.5"), "1.5", "1500m"),
    (0, "0", "0"),
])
def test_numbers_parse_like_their_json_text(number: int | float | Decimal, value: str, canonical: str) -> None:
    assert parse_quantity(number) == Decimal(value)
    assert canonicalize(number) == canonical


@pytest.mark.parametrize("bad", [
    "", " ", "+", "-", ".", "abc", "1K", "1i", "1e", "1Gi1", "1..2", "1 Gi", "e3", "Gi", "1e1.5",
    "1e999", "1,5", "--1", "0x10", True, None, float("nan"), float("inf"), Decimal("NaN"), [1],
])
def test_invalid_quantities(bad: object) -> None:
    assert not is_valid(bad)
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity(bad)  # type: ignore[arg-type]


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unable to parse quantity's suffix 'K'"):
        parse_quantity("1K")
    with pytest.raises(ValueError, match="must match the regular expression"):
        parse_quantity("abc")
    with pytest.raises(ValueError, match="numeric part"):
        parse_quantity("+")


@pytest.mark.parametrize("value,fmt,text", [
    (Decimal("1.5"), DECIMAL_SI, "1500m"),
    (Decimal(1536), BINARY_SI, "1536"),
    (Decimal(1024**3 * 3), BINARY_SI, "3Gi"),
    (Decimal(1000), BINARY_SI, "1k"),  # below 1024
    (Decimal(1024**8), BINARY_SI, str(1024**2) + "Ei"),  # past the largest suffix
    (Decimal(10**21), DECIMAL_SI, "1000E"),
    (Decimal(1500), DECIMAL_EXPONENT, "1500"),
    (Decimal(15000), DECIMAL_EXPONENT, "15e3"),
    (Decimal("0.0000000001"), DECIMAL_SI, "1n"),
    (0, BINARY_SI, "0"),
    (7, DECIMAL_SI, "7"),
])
def test_format_quantity(value: Decimal, fmt: str, text: str) -> None:
    assert format_quantity(value, fmt) == text


def test_format_rejects_unknown_format() -> None:
    with pytest.raises(ValueError):
        format_quantity(Decimal(1), "Binary")
    with pytest.raises(ValueError):
        Quantity(1, "Hex")


def test_comparisons_and_arithmetic() -> None:
    assert Quantity.parse("1Gi") == Quantity.parse("1073741824")
    assert Quantity.parse("1k") == Quantity.parse("1e3") == 1000
    assert Quantity.parse("100m") < Quantity.parse("1")
    assert Quantity.parse("1Mi") > Quantity.parse("1M")
    assert max(Quantity.parse(s) for s in ("1", "900m", "2")) == 2
    assert len({Quantity.parse("1k"), Quantity.parse("1000")}) == 1
    total = Quantity.parse("1Gi") + Quantity.parse("512Mi")
    assert str(total) == "1536Mi"
    assert str(Quantity() + Quantity.parse("1Gi")) == "1Gi"  # zero takes the other's format
    assert str(Quantity.parse("1") - Quantity.parse("250m")) == "750m"
    assert str(-Quantity.parse("1Ki")) == "-1Ki"
    assert not Quantity.parse("0")
    assert Quantity.parse("1m")
    assert repr(Quantity.parse("1.5")) == "Quantity('1500m')"


def test_sums_stay_exact() -> None:
    total = Quantity()
    for _ in range(1000):
        total = total + Quantity.parse("0.1")
    assert total == 100
    assert parse_quantity("9223372036854775807") + parse_quantity("1n") == Decimal("9223372036854775807.000000001")


@pytest.mark.parametrize("q,millis", [
    ("1", 1000), ("100m", 100), ("0.1m", 1), ("1.5", 1500), ("1n", 1), ("2k", 2_000_000),
    (0.5, 500), (Quantity.parse("250m"), 250), ("-0.0001", -1),
])
def test_cpu_millis(q: object, millis: int) -> None:
    assert cpu_millis(q) == millis  # type: ignore[arg-type]


@pytest.mark.parametrize("q,size", [
    ("1Gi", 1024**3), ("1G", 10**9), ("1.5Ki", 1536), ("0.5", 1), ("100m", 1), ("128974848", 128974848),
    ("129e6", 129_000_000), ("123Mi", 123 * 1024**2),
])
def test_memory_bytes(q: str, size: int) -> None:
    assert memory_bytes(q) == size


_decimal_si = st.builds(
    lambda n, suffix: f"{n}{suffix}",
    st.integers(min_value=-(10**15), max_value=10**15),
    st.sampled_from(["n", "u", "m", "", "k", "M", "G", "T", "P"]),
)
_binary_si = st.builds(
    lambda n, suffix: f"{n}{suffix}",
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["Ki", "Mi", "Gi", "Ti"]),
)
_exponent = st.builds(lambda n, e: f"{n}e{e}", st.integers(-(10**9), 10**9), st.integers(-9, 30))


@given(st.one_of(_decimal_si, _binary_si, _exponent))
def test_canonical_round_trip(text: str) -> None:
    q = Quantity.parse(text)
    again = Quantity.parse(str(q))
    assert again == q
    assert str(again) == str(q)


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=9, allow_nan=False))
def test_format_then_parse_is_identity(value: Decimal) -> None:
    for fmt in (DECIMAL_SI, DECIMAL_EXPONENT, BINARY_SI):
        assert parse_quantity(format_quantity(value, fmt)) == value
