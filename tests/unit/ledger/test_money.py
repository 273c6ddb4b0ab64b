"""Money and months: exact dollar parsing, display, provider costs, month bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillmarket.ledger.errors import InvalidAmount, InvalidMonth
from skillmarket.ledger.money import (
    MAX_DEPOSIT_MICROS,
    check_amount,
    exact_usd,
    format_usd,
    month_bounds,
    month_of,
    parse_month,
    parse_usd,
    usd_to_micros,
)


class TestParseUsd:
    @pytest.mark.parametrize(
        ("text", "micros"),
        [("5.00", 5_000_000), ("5", 5_000_000), ("0.000001", 1), ("$12.5", 12_500_000)],
    )
    def test_parse_is_exact(self, text, micros):
        assert parse_usd(text) == micros

    @pytest.mark.parametrize(
        "text", ["0", "0.00", "-1", "1e3", "5.0000001", "abc", "", "1,000", "nan", "1000000.01"]
    )
    def test_parse_fails_for_non_amounts(self, text):
        with pytest.raises(InvalidAmount):
            parse_usd(text)

    @given(st.integers(1, MAX_DEPOSIT_MICROS))
    def test_exact_usd_round_trips(self, micros):
        assert parse_usd(exact_usd(micros)) == micros


class TestFormat:
    @pytest.mark.parametrize(
        ("micros", "text"),
        [
            (5_000_000, "$5.00"),
            (4_200, "$0.0042"),
            (1, "$0.000001"),
            (1_234_567_890, "$1,234.56789"),
            (-1_250_000, "-$1.25"),
            (0, "$0.00"),
        ],
    )
    def test_format_usd(self, micros, text):
        assert format_usd(micros) == text

    def test_exact_usd_has_six_decimals(self):
        assert exact_usd(4_200) == "0.004200"
        assert exact_usd(-5) == "-0.000005"


class TestUpstreamCosts:
    @pytest.mark.parametrize(
        ("value", "micros"),
        [("0.0038", 3_800), (Decimal("0.0000005"), 1), ("0.0000004", 0), (0, 0), ("1", 1_000_000)],
    )
    def test_usd_to_micros_rounds_half_up(self, value, micros):
        assert usd_to_micros(value) == micros

    @pytest.mark.parametrize("value", ["-0.01", "x", "Infinity", "NaN"])
    def test_usd_to_micros_fails_for_bad_costs(self, value):
        with pytest.raises(InvalidAmount):
            usd_to_micros(value)


class TestCheckAmount:
    @pytest.mark.parametrize("value", [0, -1, 11, 1.5, True, "3"])
    def test_check_fails_outside_range_or_type(self, value):
        with pytest.raises(InvalidAmount):
            check_amount(value, maximum=10)

    def test_zero_allowed_on_request(self):
        assert check_amount(0, maximum=10, allow_zero=True) == 0


class TestMonths:
    def test_bounds_of_december_roll_the_year(self):
        assert month_bounds("2026-12") == (
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        )

    def test_month_of_is_utc(self):
        from datetime import timedelta, timezone

        late = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
        assert month_of(late) == "2026-04"

    @pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "1999-12", "2026/01", ""])
    def test_parse_month_fails_for_bad_months(self, text):
        with pytest.raises(InvalidMonth):
            parse_month(text)
