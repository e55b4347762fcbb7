"""Feature groups: execute = transform bit for bit, hand-computed values, errors, config."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from feature_extraction import (
    FEATURE_NAMES,
    GROUP_CHOICES,
    GROUPS,
    FeatureConfig,
    FeatureExtraction,
)
from feature_extraction._kernels import window_features

SP500 = np.loadtxt(
    Path(__file__).parent / "data" / "sp500_close_excerpt.csv",
    delimiter=",",
    comments="#",
    skiprows=4,
    usecols=1,
)
CLOSE_ONLY = [g for g in GROUP_CHOICES if not GROUPS[g].needs_ohlcv]
OHLCV_GROUPS = [g for g in GROUP_CHOICES if GROUPS[g].needs_ohlcv]


def walk_candles(n: int, seed: int, zero_volume_every: int = 0) -> np.ndarray:
    """A consistent OHLCV random walk ``(n, 5)``: Low <= Open, Close <= High."""
    rng = np.random.default_rng(seed)
    close = 80.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.005, n)))
    volume = np.round(np.exp(rng.normal(12.0, 0.7, n)))
    if zero_volume_every:
        volume[::zero_volume_every] = 0.0
    return np.stack([open_, high, low, close, volume], axis=1)


def live_rows(fx: FeatureExtraction, data: np.ndarray, b: int, stride: int) -> np.ndarray:
    n = (len(data) - b) // stride + 1
    return np.stack([fx.execute(data[i * stride : i * stride + b]) for i in range(n)])


# --- parity: one window = the bulk path, bit for bit ------------------------------------


@pytest.mark.parametrize("group", GROUP_CHOICES)
@pytest.mark.parametrize(("seed", "b", "stride"), [(0, 50, 1), (1, 35, 3), (2, 64, 7), (3, 41, 2)])
def test_each_group_transform_equals_execute_on_walks(group, seed, b, stride):
    data = walk_candles(1500, seed, zero_volume_every=11)
    fx = FeatureExtraction(groups=(group,))
    x = data if fx.needs_ohlcv else data[:, 3]
    bulk = fx.transform(x, b, stride=stride)
    assert bulk.shape == ((len(x) - b) // stride + 1, len(GROUPS[group].features))
    assert np.array_equal(bulk, live_rows(fx, x, b, stride))
    assert np.isfinite(bulk).all()


@pytest.mark.parametrize("group", CLOSE_ONLY)
@pytest.mark.parametrize(("b", "stride"), [(50, 1), (36, 4)])
def test_close_groups_transform_equals_execute_on_sp500(group, b, stride):
    fx = FeatureExtraction(groups=(group,), normalize="none")
    assert np.array_equal(fx.transform(SP500, b, stride), live_rows(fx, SP500, b, stride))


@pytest.mark.parametrize("normalize", ["last", "none"])
def test_all_groups_together_in_the_given_order(normalize):
    data = walk_candles(800, 5)
    order = ("technical", "volume", "trend_fft", "range_vol", "returns", "realized_vol")
    fx = FeatureExtraction(window_size=4, normalize=normalize, groups=order)
    bulk = fx.transform(data, 40, stride=2)
    assert np.array_equal(bulk, live_rows(fx, data, 40, 2))
    names = fx.feature_names
    assert len(names) == bulk.shape[1] == 21 == fx.config.n_features(5)
    assert names[:4] == ["rsi_14", "macd", "macd_signal", "bb_pctb"]
    # each block is the group computed alone
    start = 0
    for g in order:
        alone = FeatureExtraction(window_size=4, normalize=normalize, groups=(g,))
        width = len(GROUPS[g].features)
        x = data if alone.needs_ohlcv else data[:, 3]
        assert np.array_equal(bulk[:, start : start + width], alone.transform(x, 40, 2))
        start += width


def test_default_is_the_six_features_unchanged():
    fx = FeatureExtraction()
    assert fx.groups == ("trend_fft",) and fx.feature_names == list(FEATURE_NAMES)
    for end in (60, 300, 599):
        window = SP500[end - 50 : end]
        assert np.array_equal(fx.execute(window), window_features(window, 5, True))
    same = FeatureExtraction(groups=["trend_fft"])
    assert np.array_equal(fx.transform(SP500, 50), same.transform(SP500, 50))


def test_close_groups_on_several_channels_are_channel_major():
    two = np.stack([SP500, SP500[::-1].copy()], axis=1)
    fx = FeatureExtraction(groups=("returns", "technical"))
    bulk = fx.transform(two, 40, 3)
    assert bulk.shape[1] == 16 == fx.config.n_features(2)
    assert np.array_equal(bulk, live_rows(fx, two, 40, 3))
    assert np.array_equal(bulk[:, 8:], fx.transform(SP500[::-1].copy(), 40, 3))
    assert fx.channel_feature_names(2)[8] == "ch1_ret_1"


@pytest.mark.parametrize("group", [g for g in GROUP_CHOICES if g != "trend_fft"])
def test_groups_are_scale_free(group):
    data = walk_candles(300, 7)
    scaled = data.copy()
    scaled[:, :4] *= 37.5  # another price level
    scaled[:, 4] = scaled[:, 4] * 10.0 if group != "volume" else scaled[:, 4]
    fx = FeatureExtraction(groups=(group,), normalize="none")
    pick = slice(None) if fx.needs_ohlcv else 3
    a, b = fx.transform(data[:, pick], 40), fx.transform(scaled[:, pick], 40)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# --- the estimators on hand-computed cases ----------------------------------------------


def candle_rows(o, h, lo, c, v, n):
    return np.tile(np.array([o, h, lo, c, v], dtype=float), (n, 1))


def test_returns_of_a_geometric_series():
    x = 50.0 * 1.01 ** np.arange(11.0)
    got = FeatureExtraction(groups=("returns",)).execute(x)
    np.testing.assert_allclose(got, [k * math.log(1.01) for k in (1, 2, 5, 10)], rtol=1e-12)


def test_range_estimators_of_identical_candles():
    # O=100, H=120, L=80, C=110 on every candle: the window mean is the one candle's term
    # Parkinson: ln(1.5) / sqrt(4 ln 2); Garman-Klass: sqrt(0.5 ln(1.5)^2 - (2 ln 2 - 1)
    # ln(1.1)^2); Rogers-Satchell: sqrt(ln(12/11) ln(1.2) + ln(8/11) ln(0.8)).
    got = FeatureExtraction(groups=("range_vol",)).execute(candle_rows(100, 120, 80, 110, 5, 3))
    np.testing.assert_allclose(
        got, [0.24350661366486837, 0.2805207073225365, 0.2948303685216047], rtol=1e-13
    )


def test_range_estimators_average_the_candles():
    # two candles: H/L = e and H/L = e^2 with O = C = L (so Garman-Klass has no C/O term)
    rows = np.array([[1.0, math.e, 1.0, 1.0, 0.0], [1.0, math.e**2, 1.0, 1.0, 0.0]])
    park, gk, rs = FeatureExtraction(groups=("range_vol",)).execute(rows)
    assert park == pytest.approx(math.sqrt((1 + 4) / 2 / (4 * math.log(2))), rel=1e-13)
    assert gk == pytest.approx(math.sqrt(0.5 * (1 + 4) / 2), rel=1e-13)
    # C = O = L: ln(H/C) ln(H/O) = ln(H/L)^2 and ln(L/C) = 0
    assert rs == pytest.approx(math.sqrt((1 + 4) / 2), rel=1e-13)


def test_range_estimators_of_flat_candles_are_zero():
    got = FeatureExtraction(groups=("range_vol",)).execute(candle_rows(7, 7, 7, 7, 1, 4))
    assert got.tolist() == [0.0, 0.0, 0.0]


def test_realized_vol_of_alternating_returns():
    a = 0.01
    signs = np.where(np.arange(21) % 2 == 0, 1.0, -1.0)
    x = 100.0 * np.exp(np.cumsum(signs * a))  # 21 closes: 20 returns alternating -a, +a
    rv5, rv10, rv20 = FeatureExtraction(groups=("realized_vol",)).execute(x)
    assert rv10 == pytest.approx(a, rel=1e-9) and rv20 == pytest.approx(a, rel=1e-9)
    assert rv5 == pytest.approx(a * math.sqrt(24) / 5, rel=1e-9)  # 3 of one sign, 2 of the other


def test_ewma_vol_is_the_riskmetrics_recursion_over_the_window():
    rng = np.random.default_rng(4)
    r = rng.normal(0, 0.01, 30)
    x = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))  # 31 closes: 30 returns
    (got,) = FeatureExtraction(groups=("ewma_vol",)).execute(x)
    var = weight = 0.0  # the recursion s2 <- 0.94 s2 + r^2, normalized by its weights
    for ret in np.log(x[1:] / x[:-1]):
        var, weight = 0.94 * var + ret * ret, 0.94 * weight + 1.0
    assert got == pytest.approx(math.sqrt(var / weight), rel=1e-12)
    constant = 100.0 * np.exp(0.02 * np.arange(12))  # every return 0.02
    assert FeatureExtraction(groups=("ewma_vol",)).execute(constant)[0] == pytest.approx(0.02)
    scaled = FeatureExtraction(groups=("ewma_vol",)).execute(7.0 * x)
    assert scaled[0] == pytest.approx(got, rel=1e-12)  # scale-free


def test_volume_z_score():
    v = [math.e - 1, math.e**2 - 1, math.e**3 - 1]  # log1p: 1, 2, 3 -> z = 1 / sqrt(2/3)
    rows = np.array([[10.0, 11.0, 9.0, 10.0, x] for x in v])
    (z,) = FeatureExtraction(groups=("volume",)).execute(rows)
    assert z == pytest.approx(math.sqrt(1.5), rel=1e-12)
    assert FeatureExtraction(groups=("volume",)).execute(candle_rows(1, 1, 1, 1, 5e6, 9)) == [0.0]
    assert FeatureExtraction(groups=("volume",)).execute(candle_rows(1, 1, 1, 1, 0, 9)) == [0.0]


def test_rsi_values():
    fx = FeatureExtraction(groups=("technical",))
    up = 100.0 + np.arange(35.0)
    assert fx.execute(up)[0] == 100.0
    assert fx.execute(up[::-1].copy())[0] == 0.0
    assert fx.execute(np.full(35, 42.0))[0] == 50.0
    # last 14 changes: +1 x 3, -1 x 1, then 0: RS = 3 -> RSI = 100 - 100 / 4 = 75
    x = np.full(35, 50.0)
    x[-14:] = 50.0 + np.cumsum([1.0, 1.0, 1.0, -1.0] + [0.0] * 10)
    assert fx.execute(x)[0] == pytest.approx(75.0, rel=1e-14)


def test_macd_of_a_step_and_bollinger():
    fx = FeatureExtraction(groups=("technical",))
    x = np.full(35, 100.0)
    x[-1] = 101.0  # only the last EMA step moves: e12 = 100 + 2/13, e26 = 100 + 2/27
    rsi, macd, signal, _ = fx.execute(x)
    m = 2 / 13 - 2 / 27
    assert macd == pytest.approx(m / 101.0, rel=1e-9)
    assert signal == pytest.approx(0.2 * m / 101.0, rel=1e-9)  # signal EMA(9): 2/10 of it
    assert rsi == 100.0
    # last 20 closes: 19 at 100, one at 110: mean 100.5, std sqrt(4.75)
    mean, std = 100.5, math.sqrt(4.75)
    y = np.full(35, 100.0)
    y[-1] = 110.0
    assert fx.execute(y)[3] == pytest.approx((110.0 - mean + 2 * std) / (4 * std), rel=1e-12)
    flat = fx.execute(np.full(35, 3.0))
    np.testing.assert_allclose(flat[1:3], 0.0, atol=1e-15)  # weights summing to 0: rounding
    assert flat[3] == 0.5


# --- config and errors -----------------------------------------------------------------


def test_config_fields_and_sizes():
    c = FeatureConfig(groups=("returns", "range_vol"))
    assert c.needs_ohlcv and c.channel_shape == (5,) and c.n_features(5) == 7
    assert c.columns == ("Open", "High", "Low", "Close")
    assert c.min_window == 11
    assert FeatureConfig().channel_shape == (1,) and FeatureConfig().n_features(3) == 18
    assert FeatureConfig(groups=("technical",)).min_window == 35
    assert FeatureConfig(groups="returns, volume").groups == ("returns", "volume")
    assert FeatureConfig.from_dict(c.to_dict()) == c
    assert c.to_dict()["groups"] == ["returns", "range_vol"]
    assert FeatureConfig.from_dict({"window_size": 3}).groups == ("trend_fft",)


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ((), "groups must be a non-empty list"),
        (("trend_fft", "macd"), "groups must be among .* got 'macd' in it"),
        (("returns", "returns"), "groups names 'returns' twice"),
        ((1,), "got 1 in it"),
        (None, "groups must be a non-empty list"),
        (tuple(GROUP_CHOICES) * 2, f"at most once, got {2 * len(GROUP_CHOICES)}"),
    ],
)
def test_bad_groups_are_one_line(groups, match):
    with pytest.raises(ValueError, match=match) as info:
        FeatureConfig(groups=groups)
    assert "\n" not in str(info.value)


def test_ohlcv_groups_refuse_close_only_input():
    fx = FeatureExtraction(groups=("trend_fft", "range_vol"))
    for call in (lambda: fx.execute(SP500[:50]), lambda: fx.transform(SP500, 50)):
        with pytest.raises(ValueError, match=r"^groups range_vol need OHLCV candles: .*\(n, 5\)"):
            call()
    with pytest.raises(ValueError, match=r"groups volume need OHLCV candles .* got 1 channel"):
        FeatureConfig(groups=("volume",)).n_features(1)


@pytest.mark.parametrize(
    ("group", "length", "need"),
    [("returns", 10, 11), ("realized_vol", 20, 21), ("technical", 34, 35)],
)
def test_too_short_windows_name_the_group(group, length, need):
    fx = FeatureExtraction(groups=("trend_fft", group))
    with pytest.raises(
        ValueError, match=f"of {length} points is too short: group {group} needs at least {need}"
    ):
        fx.execute(SP500[:length])
    with pytest.raises(ValueError, match=f"group {group} needs at least {need}"):
        fx.transform(SP500, length)
    fx.transform(SP500, need)  # enough


def test_prices_the_groups_cannot_take():
    x = SP500[:60].copy()
    x[30] = -1.0
    fx = FeatureExtraction(groups=("returns",), normalize="none")
    with pytest.raises(
        ValueError, match=r"window position 30 \(channel 0\) has -1.0: group returns"
    ):
        fx.execute(x[:50])
    with pytest.raises(ValueError, match=r"tick 30 \(channel 0\) has -1.0: group returns"):
        fx.transform(x, 50)
    data = walk_candles(60, 1)
    data[12, 4] = -5.0
    with pytest.raises(ValueError, match=r"tick 12 \(channel 4\) .* volume needs a Volume >= 0"):
        FeatureExtraction(groups=("volume",)).transform(data, 20)
    data[12, 4] = 1.0
    data[7, 2] = 0.0
    with pytest.raises(ValueError, match=r"position 7 \(channel 2\) has 0.0: group range_vol"):
        FeatureExtraction(groups=("range_vol",)).execute(data[:20])
    data[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf at position 7 \(channel 2\)"):
        FeatureExtraction(groups=("range_vol",)).execute(data[:20])


def test_repr_and_round_trip():
    fx = FeatureExtraction(window_size=3, groups=("returns",))
    assert repr(fx) == "FeatureExtraction(window_size=3, normalize='last', groups=('returns',))"
    again = FeatureExtraction(**fx.to_dict())
    assert again.config == fx.config == FeatureExtraction.from_config(fx.config).config
