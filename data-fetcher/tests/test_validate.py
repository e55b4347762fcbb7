import numpy as np
import pandas as pd
import pytest
from data_fetcher import DataError, validate_candles


def candles(n=3):
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {"Open": 1.0, "High": 2.0, "Low": 0.5, "Close": 1.5, "Volume": 7}, index=idx
    )


def test_bad_candles(args, expected):
    df = candles(args.get("rows", 3))
    if "drop" in args:
        df = df.drop(columns=args["drop"])
    for col, value in args.get("set", {}).items():
        df[col] = df[col].astype(object)
        df.iloc[1, df.columns.get_loc(col)] = value
    if args.get("naive"):
        df.index = df.index.tz_localize(None)
    if "index" in args:
        df.index = args["index"]
    with pytest.raises(DataError, match=expected) as info:
        validate_candles(df, "X")
    assert "\n" not in str(info.value)


def test_contract_of_the_result():
    df = candles()[["Volume", "Close", "Low", "High", "Open"]].assign(Extra=1)
    out = validate_candles(df, "X")
    assert list(out.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert (out.dtypes == np.float64).all()
    assert out.index.dtype == "datetime64[ns, UTC]"


def test_naive_index_localized_when_tz_given():
    df = candles()
    df.index = df.index.tz_localize(None)
    assert str(validate_candles(df, "X", tz="America/New_York").index.tz) == "America/New_York"


def test_input_is_not_modified():
    df = candles()
    before = df.copy()
    validate_candles(df.iloc[::-1], "X")
    pd.testing.assert_frame_equal(df, before)
