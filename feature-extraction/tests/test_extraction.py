"""Tests of FeatureExtraction: the definition, batch/live parity, scale invariance, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from feature_extraction import FEATURE_NAMES, FeatureExtraction

# Real data: 600 S&P 500 daily closes (source cited in the file's header).
SP500 = np.loadtxt(
    Path(__file__).parent / "data" / "sp500_close_excerpt.csv",
    delimiter=",",
    comments="#",
    skiprows=4,
    usecols=1,
)


def make_series(source: str, length: int, seed: int = 0) -> np.ndarray:
    """A test series: the real excerpt, or a positive geometric random walk."""
    if source == "sp500":
        return SP500[:length].copy()
    rng = np.random.default_rng(seed)
    return 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, length)))


def make_window(kind: str, size: int) -> np.ndarray:
    """Hand-checkable windows."""
    n = np.arange(size, dtype=float)
    if kind == "line":
        return n + 1.0  # 1, 2, ..., size
    if kind == "sine3":
        return 100.0 + np.sin(2 * np.pi * 3 * n / size)
    if kind == "alternating":
        return 10.0 + (-1.0) ** n
    if kind == "constant":
        return np.full(size, 50.0)
    raise ValueError(kind)


def seed_definition(window: np.ndarray, w: int, normalize: str | None) -> np.ndarray:
    """The design's definition, literally (np.convolve, np.gradient, np.std, rfft)."""
    x = np.asarray(window, dtype=float)
    if normalize == "last":
        x = x / x[-1]
    ma = np.convolve(x, np.ones(w) / w, mode="valid")
    slope = np.gradient(ma)
    mags = np.abs(np.fft.rfft(x))
    idx = int(np.argmax(mags[1:])) + 1
    return np.array([ma[-1], slope[-1], np.std(slope), idx, mags[idx], np.mean(mags)])


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a|, |b|) over all entries (0 where both are 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    den = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    rel = np.divide(diff, den, out=np.zeros_like(diff), where=den > 0)
    return float(rel.max(initial=0.0))


def windows_of(series: np.ndarray, buffer_size: int, stride: int) -> list[np.ndarray]:
    return [series[s : s + buffer_size] for s in range(0, len(series) - buffer_size + 1, stride)]


# --- the definition, hand-checked ------------------------------------------------------


def test_hand_checked(args, expected):
    fx = FeatureExtraction(window_size=args["window_size"], normalize=args["normalize"])
    window = args.get("values") or make_window(args["kind"], args["size"])
    feats = fx.execute(window)
    assert feats.shape == (6,)
    assert feats.dtype == np.float64
    for name, value in expected.items():
        got = feats[FEATURE_NAMES.index(name)]
        assert got == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_matches_seed_definition(args):
    """Our arithmetic (shared sums, late normalisation) vs the literal definition."""
    fx = FeatureExtraction(window_size=args["window_size"], normalize=args["normalize"])
    series = make_series(args["source"], args["length"], args.get("seed", 0))
    for window in windows_of(series, args["buffer_size"], 1):
        ours = fx.execute(window)
        ref = seed_definition(window, args["window_size"], args["normalize"])
        assert ours[3] == ref[3]  # the same dominant frequency, same tie-breaking
        scale = np.abs(window).max() / (window[-1] if args["normalize"] == "last" else 1.0)
        # slope = ma[-1] - ma[-2] cancels: allow 1e-12 of the window's scale, absolutely.
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12 * scale)


def test_window_count(args, expected):
    fx = FeatureExtraction(window_size=2)
    feats = fx.transform(np.linspace(1.0, 2.0, args["ticks"]), args["buffer_size"], args["stride"])
    assert feats.shape == (expected, 6)


# --- batch path == live path -------------------------------------------------------------


def test_transform_matches_execute(args):
    fx = FeatureExtraction(window_size=args["window_size"], normalize=args["normalize"])
    series = make_series(args["source"], args["length"], args.get("seed", 0))
    buffer_size, stride = args["buffer_size"], args["stride"]
    batch = fx.transform(series, buffer_size, stride)
    live = np.array([fx.execute(w) for w in windows_of(series, buffer_size, stride)])
    assert batch.shape == live.shape == (len(live), 6)
    np.testing.assert_array_equal(batch[:, 3], live[:, 3])  # argmax ties broken alike
    assert max_rel_diff(batch, live) <= 1e-9


def test_transform_is_bit_identical_on_real_data():
    fx = FeatureExtraction()
    batch = fx.transform(SP500, 50)
    live = np.array([fx.execute(w) for w in windows_of(SP500, 50, 1)])
    np.testing.assert_array_equal(batch, live)


def test_window_i_ends_at_documented_tick():
    fx = FeatureExtraction(window_size=3)
    batch = fx.transform(SP500, 20, stride=7)
    i = 11
    end = 20 - 1 + i * 7
    np.testing.assert_array_equal(batch[i], fx.execute(SP500[end - 19 : end + 1]))


# --- multi-channel ---------------------------------------------------------------------


def test_multichannel_is_channel_major(args):
    fx = FeatureExtraction(window_size=args["window_size"], normalize=args["normalize"])
    channels = [make_series("walk", 300, seed) for seed in range(args["channels"])]
    stacked = np.stack(channels, axis=1)  # (T, k)
    buffer_size, stride = args["buffer_size"], args["stride"]
    batch = fx.transform(stacked, buffer_size, stride)
    k = args["channels"]
    assert batch.shape[1] == 6 * k
    for c, series in enumerate(channels):
        np.testing.assert_array_equal(
            batch[:, 6 * c : 6 * c + 6], fx.transform(series, buffer_size, stride)
        )
    for i, window in enumerate(windows_of(stacked, buffer_size, stride)):
        np.testing.assert_array_equal(fx.execute(window), batch[i])


def test_single_channel_column_equals_vector():
    fx = FeatureExtraction()
    window = SP500[:50]
    np.testing.assert_array_equal(fx.execute(window[:, None]), fx.execute(window))
    np.testing.assert_array_equal(fx.transform(SP500[:, None], 50), fx.transform(SP500, 50))


def test_channel_feature_names():
    fx = FeatureExtraction()
    assert fx.channel_feature_names(1) == list(FEATURE_NAMES)
    names = fx.channel_feature_names(2)
    assert names[:6] == [f"ch0_{n}" for n in FEATURE_NAMES]
    assert names[6:] == [f"ch1_{n}" for n in FEATURE_NAMES]


# --- scale invariance ------------------------------------------------------------------


def test_scale_invariance(args):
    series = make_series(args["source"], 200, args.get("seed", 0))
    factor, buffer_size = args["factor"], args["buffer_size"]
    fx = FeatureExtraction(window_size=args["window_size"], normalize="last")
    base = fx.transform(series, buffer_size)
    scaled = fx.transform(series * factor, buffer_size)
    np.testing.assert_array_equal(scaled[:, 3], base[:, 3])
    np.testing.assert_allclose(scaled, base, rtol=1e-12, atol=1e-14)
    raw = FeatureExtraction(window_size=args["window_size"], normalize=None)
    moved = raw.transform(series * factor, buffer_size)
    expected = raw.transform(series, buffer_size) * np.array([factor] * 3 + [1] + [factor] * 2)
    # slope = ma[-1] - ma[-2] cancels: allow 1e-12 of the price scale, absolutely.
    atol = 1e-12 * factor * np.abs(series).max()
    np.testing.assert_allclose(moved, expected, rtol=1e-12, atol=atol)


def test_raw_features_depend_on_price_level():
    """The counterpart of scale invariance: without normalisation the level shows."""
    raw = FeatureExtraction(normalize=None)
    window = SP500[:50]
    assert raw.execute(window * 2)[0] == pytest.approx(2 * raw.execute(window)[0])


# --- bad input -------------------------------------------------------------------------


def test_bad_window(args, expected):
    fx = FeatureExtraction(window_size=args.get("window_size", 5), normalize=args["normalize"])
    window = np.array(args["window"], dtype=float)
    if "shape" in args:
        window = window.reshape(args["shape"])
    with pytest.raises(ValueError, match=expected):
        fx.execute(window)


def test_bad_history(args, expected):
    fx = FeatureExtraction(window_size=args.get("window_size", 2), normalize=args["normalize"])
    closes = np.linspace(1.0, 2.0, args.get("ticks", 20))
    for tick, value in args.get("set", {}).items():
        closes[tick] = value
    with pytest.raises(ValueError, match=expected):
        fx.transform(closes, args["buffer_size"], args.get("stride", 1))


def test_bad_value_outside_every_window_is_ignored():
    fx = FeatureExtraction(window_size=2)
    closes = np.linspace(1.0, 2.0, 12)
    closes[-1] = np.nan  # stride 5, buffer 6: windows cover ticks 0..10 only
    assert fx.transform(closes, 6, stride=5).shape == (2, 6)


def test_zero_inside_a_window_is_fine_when_last_is_positive():
    fx = FeatureExtraction(window_size=2)
    feats = fx.execute([3.0, 0.0, 2.0, 4.0])
    assert np.isfinite(feats).all()


def test_bad_config(args, expected):
    with pytest.raises(ValueError, match=expected):
        FeatureExtraction(**args)


# --- the rest of the API ---------------------------------------------------------------


def test_to_dict_round_trip():
    for fx in (FeatureExtraction(), FeatureExtraction(window_size=7, normalize=None)):
        again = FeatureExtraction(**fx.to_dict())
        assert again.to_dict() == fx.to_dict()
        np.testing.assert_array_equal(again.execute(SP500[:30]), fx.execute(SP500[:30]))


def test_names_and_repr():
    fx = FeatureExtraction(window_size=4)
    assert fx.feature_names == ["ma", "slope", "slope_std", "freq_idx", "freq_mag", "mean_mag"]
    assert fx.n_features == 6
    assert repr(fx) == "FeatureExtraction(window_size=4, normalize='last')"


def test_execute_does_not_modify_its_input():
    fx = FeatureExtraction()
    window = SP500[:50].copy()
    fx.execute(window)
    fx.transform(window, 20)
    np.testing.assert_array_equal(window, SP500[:50])


def test_threaded_chunks_give_the_same_bits(monkeypatch):
    # 3 chunks of windows, computed on several threads or on one: identical, and equal
    # to the live path bit for bit
    from feature_extraction import extraction

    series = make_series("walk", 2 * extraction._CHUNK + 500, 7)
    fx = FeatureExtraction()
    monkeypatch.setattr(extraction, "_THREADS", 3)
    threaded = fx.transform(series, 50)
    monkeypatch.setattr(extraction, "_THREADS", 1)
    serial = fx.transform(series, 50)
    np.testing.assert_array_equal(threaded, serial)
    picks = [0, extraction._CHUNK - 1, extraction._CHUNK, len(threaded) - 1]
    windows = windows_of(series, 50, 1)
    np.testing.assert_array_equal(
        threaded[picks], np.array([fx.execute(windows[i]) for i in picks])
    )
