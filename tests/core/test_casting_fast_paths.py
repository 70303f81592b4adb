"""Text read as numbers and dates gives the same values, types and errors on the fast path as on the general one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_studio.core import casting
from etl_studio.core.casting import _parse_numbers_by_pattern, _parse_plain_numbers, cast_series, parse_numbers
from etl_studio.core.types import parse_type

TRICKY = [
    ["1", "007", "-3", None, ""],
    ["+5", "6"],
    ["0x10", "1"],
    ["1.5", "2"],
    ["1.", ".5", "-.5", "+.5"],
    ["1e3", "2"],
    ["1.5e3", "0.25"],
    [" 1", "2 "],
    ["  12", "3 ", "\t4\n", "   "],
    [" 1.50", "2.25  ", "", None],
    [" 1.5", "N/A"],
    ["N/A", "1"],
    ["-", "1"],
    ["+", "."],
    ["1.2.3"],
    ["1-2"],
    ["999999999999999999", "-999999999999999999"],
    ["1000000000000000000"],
    ["0000000000000000000001"],
    ["9223372036854775807"],
    ["9223372036854775808"],
    ["12345678901234567890123456789012345678901234567890.5"],
    ["１２", "3"],
    ["", ""],
    [None, None],
    ["0.20", "0", None, "0.05"],
    ["740.79", "-0.00", "000.10"],
]


def same(a: casting.ParsedNumbers, b: casting.ParsedNumbers) -> None:
    assert a.values.type == b.values.type
    assert a.values.to_pylist() == b.values.to_pylist()
    assert a.bad.tolist() == b.bad.tolist()


@pytest.mark.parametrize("values", TRICKY, ids=[repr(v) for v in TRICKY])
def test_plain_numbers_read_fast_match_the_pattern_reader(values: list[str | None]) -> None:
    text = pa.array(values, pa.string())
    reference = _parse_numbers_by_pattern(text)
    fast = _parse_plain_numbers(text)
    if fast is not None:
        same(fast, reference)
    casting._parsed_cache.clear()
    same(parse_numbers(text), reference)


def test_the_fast_path_takes_clean_columns_and_leaves_messy_ones() -> None:
    assert _parse_plain_numbers(pa.array(["1", "2", None, ""])) is not None
    assert _parse_plain_numbers(pa.array(["1.25", "-0.5"])) is not None
    for messy in (["1", " 2"], ["N/A"], ["1e3"], ["0x10"], ["+5"], [None]):  # (padded ones are trimmed first, in parse_numbers)
        assert _parse_plain_numbers(pa.array(messy, pa.string())) is None, messy


def test_a_null_slot_holding_a_token_does_not_spoil_the_fast_path() -> None:
    text = pc.if_else(pa.array([True, False, True]), pa.array(["1", "N/A", "3"]), pa.scalar(None, pa.string()))
    same(parse_numbers(text), _parse_numbers_by_pattern(text))
    sliced = pa.array(["x", "12", "N/A", "4"]).slice(1, 1)
    assert parse_numbers(sliced).values.to_pylist() == [12]


_number_text = st.one_of(
    st.none(),
    st.text(alphabet="0123456789+-.eEx ", max_size=8),
    st.from_regex(r"[+-]?[0-9]{1,21}(\.[0-9]{0,4})?", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_number_text, min_size=1, max_size=6))
def test_any_text_reads_the_same_on_both_paths(values: list[str | None]) -> None:
    text = pa.array(values, pa.string())
    fast = _parse_plain_numbers(text)
    if fast is not None:
        same(fast, _parse_numbers_by_pattern(text))


def test_a_column_read_twice_is_parsed_once_and_its_result_cannot_be_changed() -> None:
    text = pa.array(["1", "2", "x"])
    first = parse_numbers(text)
    assert parse_numbers(text) is first
    with pytest.raises(ValueError):
        first.bad[0] = True
    assert parse_numbers(pa.array(["1", "2", "x"])).bad.tolist() == [False, False, True]


def test_casting_a_mapped_column_then_an_expression_over_it_gives_the_usual_errors() -> None:
    s = pd.Series(["1.5", "2", None, "x"], dtype=pd.StringDtype("pyarrow"))
    as_int = cast_series(s, parse_type("integer"))
    assert as_int.errors.tolist() == ["'1.5' is not an integer", None, None, "'x' is not an integer"]
    as_dec = cast_series(s, parse_type("decimal(10,2)"))
    assert [str(v) for v in as_dec.values.tolist()] == ["1.50", "2.00", "<NA>", "<NA>"]
    assert as_dec.errors.tolist() == [None, None, None, "'x' is not a decimal(10,2)"]


DATES = [
    ["2024-01-05", None, "", "2024-02-29"],
    ["2023-02-29", "2024-01-05"],
    ["0000-01-01", "9999-12-31", "1677-09-21", "2262-04-12"],
    ["2024-1-05", "20240105", " 2024-01-05", "2024-01-05 "],
    ["2024-01-05T10:00", "2024-01-05 10:00:00", "2024-01-05Z"],
    ["2024-13-01", "2024-00-10", "2024-01-32", "+2024-01-05", "2024-W01-1", "N/A"],
    [None, ""],
]


@pytest.mark.parametrize("values", DATES, ids=[repr(v) for v in DATES])
def test_iso_dates_read_fast_match_the_general_reader(values: list[str | None]) -> None:
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    result = cast_series(s, parse_type("date"))
    days = pc.cast(result.values.array._pa_array, pa.int32()).to_pylist()  # year 0 has no Python date
    stamps, bad = casting.read_datetimes(casting.text_array(s))
    general = pc.cast(pa.array(stamps.to_numpy(), mask=stamps.isna().to_numpy(), type=pa.timestamp("us")), pa.date32(), safe=False)
    assert days == pc.cast(general, pa.int32()).to_pylist()
    errors = result.errors.tolist() if result.errors is not None else [None] * len(values)
    assert errors == [f"'{v}' is not a date" if b else None for v, b in zip(values, bad, strict=True)]


def test_only_whole_iso_date_columns_take_the_fast_path() -> None:
    assert casting.read_iso_dates(pa.array(["2024-01-05", None, ""])).to_pylist()[0].isoformat() == "2024-01-05"
    assert casting.read_iso_dates(pa.array(["  2024-01-05", "2024-01-06 ", "   "])).to_pylist()[1:] == [dt.date(2024, 1, 6), None]
    for other in (["2024-01-05 10:00"], ["2023-02-29"], [" 2024-1-05"], [None], [""], ["  "]):
        assert casting.read_iso_dates(pa.array(other, pa.string())) is None, other


def test_a_plus_sign_is_read_on_integers_too() -> None:
    result = cast_series(pd.Series(["+5", "-5", "+0"], dtype=pd.StringDtype("pyarrow")), parse_type("integer"))
    assert result.values.tolist() == [5, -5, 0]
    assert result.errors is None


def _general_cast(monkeypatch: pytest.MonkeyPatch, s: pd.Series, type_name: str) -> casting.CastResult:
    """The cast with the one-Arrow-cast shortcut of mapped columns turned off."""
    with monkeypatch.context() as patch:
        patch.setattr(casting, "_strict_cast", lambda text, target: None)
        casting.forget_chunk()
        result = cast_series(s, parse_type(type_name))
    casting.forget_chunk()
    return result


def _same_cast(a: casting.CastResult, b: casting.CastResult) -> None:
    assert a.values.dtype == b.values.dtype
    assert [str(v) for v in a.values.tolist()] == [str(v) for v in b.values.tolist()]
    assert (a.errors.tolist() if a.errors is not None else None) == (b.errors.tolist() if b.errors is not None else None)


@pytest.mark.parametrize("type_name", ["integer", "decimal(10,2)", "decimal(4,2)", "decimal(38,0)", "decimal(12,6)"])
@pytest.mark.parametrize("values", TRICKY, ids=[repr(v) for v in TRICKY])
def test_mapped_columns_cast_by_one_arrow_cast_match_the_general_reader(
    monkeypatch: pytest.MonkeyPatch, values: list[str | None], type_name: str
) -> None:
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    casting.forget_chunk()
    fast = cast_series(s, parse_type(type_name))
    _same_cast(fast, _general_cast(monkeypatch, s, type_name))


@settings(max_examples=200, deadline=None)
@given(st.lists(_number_text, min_size=1, max_size=6), st.sampled_from(["integer", "decimal(10,2)", "decimal(5,0)", "decimal(18,4)"]))
def test_any_text_casts_the_same_with_and_without_the_shortcut(values: list[str | None], type_name: str) -> None:
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    casting.forget_chunk()
    fast = cast_series(s, parse_type(type_name))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(casting, "_strict_cast", lambda text, target: None)
        casting.forget_chunk()
        general = cast_series(s, parse_type(type_name))
    casting.forget_chunk()
    _same_cast(fast, general)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.from_regex(r"[+-]?0{0,3}[0-9]{1,20}(\.[0-9]{0,8})?", fullmatch=True)), min_size=1, max_size=6))
def test_plain_decimals_get_the_type_and_values_of_the_digit_counting_reader(values: list[str | None]) -> None:
    text = pa.array(values, pa.string())
    quick = casting._plain_decimals(text, casting._no_bad(len(values)))
    if quick is not None:
        same(quick, casting._parse_decimals(text, casting._no_bad(len(values))))


def test_hexadecimal_is_not_read_as_a_number_even_padded() -> None:
    result = cast_series(pd.Series([" 0x1F", "0X10", "5"], dtype=pd.StringDtype("pyarrow")), parse_type("integer"))
    assert result.values.tolist()[2] == 5
    assert result.errors.tolist()[:2] == ["' 0x1F' is not an integer", "'0X10' is not an integer"]


def test_a_negative_decimal_whose_floor_needs_one_more_digit_is_not_an_integer() -> None:
    result = cast_series(pd.Series(["-9.1", "-9.0", "99.5"], dtype=pd.StringDtype("pyarrow")), parse_type("integer"))
    assert result.values.tolist() == [pd.NA, -9, pd.NA]
    assert result.errors.tolist() == ["'-9.1' is not an integer", None, "'99.5' is not an integer"]
