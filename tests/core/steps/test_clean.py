"""The clean step: trimming, null tokens, case and defaults, as an analyst configures them."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.steps.clean import Clean, CleanConfig


def make(ctx, **config) -> Clean:
    return Clean.from_spec(config, ctx)


def test_defaults_trim_text_and_turn_null_tokens_into_null(ctx, text_frame):
    chunk = text_frame({"name": ["  Ann ", "N/A", "-", "", "null", " NULL ", "Bob"]})
    out = make(ctx).process(chunk)
    assert out["name"].tolist()[0] == "Ann"
    assert out["name"].isna().tolist() == [False, True, True, True, True, True, False]
    assert out["name"].dtype == chunk["name"].dtype


def test_only_listed_columns_are_cleaned(ctx, text_frame):
    chunk = text_frame({"a": [" x "], "b": [" y "]})
    out = make(ctx, columns=["a"]).process(chunk)
    assert out["a"].tolist() == ["x"] and out["b"].tolist() == [" y "]


def test_custom_null_tokens_replace_the_default_list(ctx, text_frame):
    out = make(ctx, null_tokens=["?"]).process(text_frame({"a": ["?", "N/A"]}))
    assert out["a"].isna().tolist() == [True, False]


def test_trim_off_keeps_spaces_and_tokens_match_exactly(ctx, text_frame):
    out = make(ctx, trim=False).process(text_frame({"a": [" NULL", "NULL"]}))
    assert out["a"].tolist()[0] == " NULL" and out["a"].isna().tolist() == [False, True]


def test_case_changes_per_column(ctx, text_frame):
    chunk = text_frame({"a": ["ann SMITH"], "b": ["ann SMITH"], "c": ["ann SMITH"]})
    out = make(ctx, case={"a": "lower", "b": "upper", "c": "title"}).process(chunk)
    assert out.iloc[0].tolist() == ["ann smith", "ANN SMITH", "Ann Smith"]


def test_defaults_fill_nulls_after_tokens_and_keep_column_types(ctx, text_frame):
    chunk = text_frame({"city": ["N/A", None, "Oslo"]})
    chunk["qty"] = pd.array([None, 2, 3], dtype="Int64")
    out = make(ctx, defaults={"city": "unknown", "qty": 0}).process(chunk)
    assert out["city"].tolist() == ["unknown", "unknown", "Oslo"]
    assert out["qty"].tolist() == [0, 2, 3] and out["qty"].dtype == "Int64"


def test_a_default_that_does_not_fit_the_column_type_is_a_config_error(ctx):
    chunk = pd.DataFrame({"qty": pd.array([None, 1], dtype="Int64")})
    with pytest.raises(ConfigError, match="default 'abc' does not fit column 'qty'"):
        make(ctx, defaults={"qty": "abc"}).process(chunk)


def test_numeric_columns_are_left_alone(ctx):
    chunk = pd.DataFrame({"n": pd.array([1, None], dtype="Int64")})
    out = make(ctx).process(chunk)
    assert out["n"].dtype == "Int64" and out["n"].tolist()[0] == 1


def test_case_change_on_a_number_column_is_a_config_error(ctx):
    with pytest.raises(ConfigError, match="cannot change the case of column 'n'"):
        make(ctx, case={"n": "upper"}).process(pd.DataFrame({"n": [1]}))


def test_chunks_are_cleaned_independently_and_keep_their_index(ctx, text_frame):
    step = make(ctx)
    first = step.process(text_frame({"a": [" x", "NA"]}, index=[0, 1]))
    second = step.process(text_frame({"a": ["y ", "None"]}, index=[2, 3]))
    assert first.index.tolist() == [0, 1] and second.index.tolist() == [2, 3]
    assert first["a"].tolist()[0] == "x" and second["a"].tolist()[0] == "y"
    assert second["a"].isna().tolist() == [False, True]


def test_unknown_columns_are_named(ctx):
    step = make(ctx, columns=["emial"])
    with pytest.raises(ConfigError, match=r"unknown column 'emial' in clean \(columns: email, name\)"):
        step.output_columns(["email", "name"])
    with pytest.raises(ConfigError, match="unknown column 'x'"):
        make(ctx, defaults={"x": "0"}).output_columns(["a"])


def test_bad_configs_are_rejected_with_clear_messages():
    with pytest.raises(ValidationError, match="listed twice"):
        CleanConfig(columns=["a", "a"])
    with pytest.raises(ValidationError, match="'lower', 'upper' or 'title'"):
        CleanConfig(case={"a": "camel"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        CleanConfig.model_validate({"trimm": True})


def test_empty_frame(ctx, text_frame):
    out = make(ctx, defaults={"a": "x"}).process(text_frame({"a": []}))
    assert len(out) == 0 and list(out.columns) == ["a"]


TRICKY_TEXT = ["  Ann ", "N/A", " N/A ", "n/a", "-", " - ", "", "   ", None, "\tNULL\n", "x\u00a0", "\u2003y\u3000",
               "jürgen@beispiel.de ", "\u200bzero-width", "None", "NA", "a b", "\x1cz\x1f", "用户 "]


@pytest.mark.parametrize("trim", [True, False])
@pytest.mark.parametrize("tokens", [None, [], ["N/A", "", "用户"]])
def test_arrow_text_is_cleaned_exactly_as_pandas_string_methods_clean_it(ctx, trim, tokens):
    config = {"trim": trim} if tokens is None else {"trim": trim, "null_tokens": tokens}
    chunk = pd.DataFrame({"t": pd.Series(TRICKY_TEXT, dtype=pd.StringDtype("pyarrow"))}).set_axis(range(50, 50 + len(TRICKY_TEXT)))
    out = make(ctx, **config).process(chunk)
    expected = chunk["t"].str.strip() if trim else chunk["t"]
    listed = CleanConfig(**config).null_tokens
    if listed:
        expected = expected.mask(expected.isin(listed))
    assert out["t"].dtype == chunk["t"].dtype
    assert out.index.tolist() == chunk.index.tolist()
    assert out["t"].tolist() == expected.tolist()
    # the Python-backed text of the same values comes out the same
    python = make(ctx, **config).process(chunk.astype({"t": pd.StringDtype("python")}))
    assert python["t"].tolist() == out["t"].tolist()


def test_cleaning_leaves_the_input_chunk_as_it_was(ctx):
    chunk = pd.DataFrame({"t": pd.Series([" a ", "N/A"], dtype=pd.StringDtype("pyarrow")), "n": pd.array([1, 2], dtype="Int64")})
    make(ctx).process(chunk)
    assert chunk["t"].tolist() == [" a ", "N/A"]
