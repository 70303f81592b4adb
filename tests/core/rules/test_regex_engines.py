"""The regex rule decides every value the same whether Arrow's RE2 or Python's re does the matching."""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_studio.core.rules import regex as regex_rule
from etl_studio.core.rules.regex import PRESETS, Regex, re2_form

TRICKY_VALUES = [
    "ann.lee+news@mail.example.co.uk", "bob@", "a b@x.de", "x@y.z", "jürgen@beispiel.de", "anna@bücher.de",
    "ANNA@EXAMPLE.COM", " anna@example.com", "anna@example.com ", "anna@example.com\n", "\nanna@example.com",
    "", None, "N/A", "anna@@example.com", ".anna@example.com", "anna.@example.com", "anna@-example.com",
    "anna@example-.com", "anna@example.c", "anna@example.com.", "用户@例子.广告", "anna@exa\u200bmple.com",
    "12", "١٢", "12a", "DE123", "de123", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3F2504E0-4F89-11D3-9A0C-0305E82C330",
    "https://example.com/a b", "http://x", "a\tb", "a\x1cb", "a\x0bb",
]


def python_failing(values: pd.Series, pattern: str) -> list[bool]:
    return [not pd.isna(v) and re.fullmatch(pattern, v) is None for v in values.tolist()]


def arrow_text(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype=pd.StringDtype("pyarrow"))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_decides_tricky_values_as_python_does(preset: str) -> None:
    pattern = PRESETS[preset][0]
    values = arrow_text(TRICKY_VALUES)
    assert regex_rule._failing(values, pattern).tolist() == python_failing(values, pattern)


def test_the_email_digits_and_uuid_presets_run_on_re2_and_url_on_python() -> None:
    assert re2_form(PRESETS["email"][0]) is not None
    assert re2_form(PRESETS["uuid"][0]) is not None
    assert re2_form(PRESETS["digits"][0]) is not None
    assert re2_form(PRESETS["url"][0]) is None  # \s means more in Python than in RE2


@pytest.mark.parametrize(
    "pattern",
    [r"(?!test)\w+", r"(\w)\1", r"a$", r"^a", r"(?i)abc", r"\s+", r"[[:alpha:]]+", r"a{,2}", r"a*+", r"\Aabc",
     r"caf\u00e9", "café", r"(?P<x>a)(?P=x)", r"a(?=b)b", r"[\b]", r"\x41"],
)
def test_patterns_whose_meaning_differs_in_re2_stay_with_python(pattern: str) -> None:
    assert re2_form(pattern) is None


@pytest.mark.parametrize("pattern", [r"[A-Z]{2}\d+", r"\w+@\w+\.\w{2,}", r"[^,]+(,[^,]+)*", r"(ab|a)(c|bcd)", r"x.y", r"[]a]+"])
def test_simple_patterns_use_re2_and_agree_with_python(pattern: str) -> None:
    assert re2_form(pattern) is not None
    values = arrow_text(TRICKY_VALUES + ["DE12", "ab@cd.ef", "a,b,c", "abcd", "x\ny", "x y", "]a]", "Ｄ１２"])
    assert regex_rule._failing(values, pattern).tolist() == python_failing(values, pattern)


def test_non_ascii_values_send_ascii_only_classes_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    values = arrow_text(["١٢", "12", None])
    assert re2_form(r"\d+").needs_ascii
    assert regex_rule._failing(values, r"\d+").tolist() == [False, False, False]  # Python: Arabic-Indic digits are \d


def test_object_and_python_backed_text_are_matched_by_python(ctx, text_frame) -> None:
    rule = Regex.from_spec({"column": "c", "preset": "email"}, ctx)
    frame = pd.DataFrame({"c": pd.Series(["a@b.de", "x", None, 5], dtype=object)})
    assert rule.check(frame).tolist() == [None, "'x' is not a valid e-mail address", None, "'5' is not a valid e-mail address"]


def test_reasons_are_the_same_on_both_engines(ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    rule = Regex.from_spec({"column": "email", "preset": "email"}, ctx)
    frame = pd.DataFrame({"email": arrow_text(TRICKY_VALUES)}).set_axis(range(100, 100 + len(TRICKY_VALUES)))
    fast = rule.check(frame)
    monkeypatch.setattr(regex_rule, "re2_form", lambda _pattern: None)
    slow = rule.check(frame)
    assert fast.index.tolist() == slow.index.tolist()
    assert fast.tolist() == slow.tolist()
    assert fast[100 + TRICKY_VALUES.index("jürgen@beispiel.de")] == "'jürgen@beispiel.de' is not a valid e-mail address"


def test_an_empty_chunk_and_an_all_null_chunk(ctx) -> None:
    rule = Regex.from_spec({"column": "email", "preset": "email"}, ctx)
    assert len(rule.check(pd.DataFrame({"email": arrow_text([])}))) == 0
    assert rule.check(pd.DataFrame({"email": arrow_text([None, None])})).tolist() == [None, None]


_atoms = st.sampled_from(["a", "b", ".", r"\.", "-", "@", "[a-c]", "[^a]", r"\d", r"\w", r"\W", r"\b", "[ab@.]", "é", " ", r"\t", "[]a]"])


@st.composite
def _patterns(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        atom = draw(_atoms) if depth >= 2 or draw(st.booleans()) else "(?:" + draw(_patterns(depth + 1)) + ")"
        atom += draw(st.sampled_from(["", "", "*", "+", "?", "{1,2}", "*?", "+?"]))
        parts.append(atom)
    pattern = "".join(parts)
    if draw(st.booleans()):
        pattern += "|" + draw(_patterns(depth + 1)) if depth < 2 else ""
    return pattern


@settings(max_examples=300, deadline=None)
@given(_patterns(), st.lists(st.one_of(st.none(), st.text(alphabet="ab.-@c1_ é\n\t١", max_size=6)), min_size=1, max_size=8))
def test_random_patterns_decide_random_values_as_python_does(pattern: str, values: list[str | None]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(pattern)
        except re.error:
            return
    series = arrow_text(values)
    assert regex_rule._failing(series, pattern).tolist() == python_failing(series, pattern)
