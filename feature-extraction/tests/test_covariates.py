"""Covariates: extra numeric columns appended to every window's features."""

from __future__ import annotations

import numpy as np
import pytest
from feature_extraction import FeatureConfig, FeatureExtraction


def test_config_parses_validates_and_counts() -> None:
    cfg = FeatureConfig(covariates="vix, rate")
    assert cfg.covariates == ("vix", "rate")
    assert cfg.n_features() == 8
    assert cfg.feature_names()[-2:] == ["vix", "rate"]
    ohlcv = FeatureConfig(groups=("returns", "volume"), covariates=["vix"])
    assert ohlcv.n_features(5) == 6
    assert FeatureConfig(covariates=("vix",)).n_features(3) == 19  # 6 x 3 channels + 1
    assert FeatureConfig().covariates == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("vix", "vix"), "covariates names 'vix' twice"),
        (("Close",), "'Close' is the candle column Close"),
        (("volume",), "'volume' is the candle column Volume"),
        (("Adj Close",), "'Adj Close' is the candle column Adj Close"),
        (("slope",), "'slope' is the name of a feature"),
        (("",), "covariates must be non-empty column names"),
        ((3,), "covariates must be non-empty column names, got 3"),
        ((" vix",), "leading or trailing spaces"),
        (("x" * 65,), "at most 64 characters"),
        (("a\nb",), "printable"),
        (42, "covariates must be a list of column names, got 42"),
        (tuple(f"c{i}" for i in range(65)), "at most 64 columns"),
    ],
)
def test_config_refuses_bad_covariates(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=r"^covariates") as info:
        FeatureConfig(covariates=value)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_dict_round_trip_and_old_dicts() -> None:
    cfg = FeatureConfig(groups=("trend_fft", "returns"), covariates=("vix", "rate"))
    d = cfg.to_dict()
    assert d["covariates"] == ["vix", "rate"]
    assert FeatureConfig.from_dict(d) == cfg
    # no covariates: the dict is what it was before covariates existed
    assert "covariates" not in FeatureConfig().to_dict()
    assert FeatureConfig.from_dict({"window_size": 5, "groups": ["trend_fft"]}).covariates == ()
    assert FeatureExtraction.from_config(cfg).config == cfg


@pytest.mark.parametrize("groups", [("trend_fft",), ("trend_fft", "returns", "range_vol")])
def test_transform_equals_execute_with_covariates(groups: tuple[str, ...]) -> None:
    rng = np.random.default_rng(0)
    fx = FeatureExtraction(groups=groups, covariates=("vix", "rate"))
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))
    if fx.needs_ohlcv:
        hi, lo = closes * 1.01, closes * 0.99
        data = np.column_stack([closes, hi, lo, closes, rng.uniform(1e5, 2e5, 120)])
    else:
        data = closes
    cov = rng.normal(size=(120, 2))
    b, s = 40, 3
    batch = fx.transform(data, b, stride=s, covariates=cov)
    assert batch.shape == (len(range(b - 1, 120, s)), fx.n_features)
    for i, end in enumerate(range(b - 1, 120, s)):
        live = fx.execute(data[end - b + 1 : end + 1], cov[end])
        np.testing.assert_array_equal(live, batch[i])
    # the last columns are the covariates at each window's last tick, as they are
    np.testing.assert_array_equal(batch[:, -2:], cov[b - 1 :: s])
    plain = FeatureExtraction(groups=groups).transform(data, b, stride=s)
    np.testing.assert_array_equal(batch[:, :-2], plain)


def test_only_window_ends_need_finite_covariates() -> None:
    fx = FeatureExtraction(covariates=("vix",))
    closes = np.linspace(100, 110, 30)
    cov = np.arange(30.0)
    cov[3] = np.nan  # not the end of a window: not read
    out = fx.transform(closes, 10, stride=5, covariates=cov)
    np.testing.assert_array_equal(out[:, -1], [9.0, 14.0, 19.0, 24.0, 29.0])
    cov[14] = np.inf
    with pytest.raises(ValueError, match=r"^covariate 'vix' is inf at tick 14 \(the end"):
        fx.transform(closes, 10, stride=5, covariates=cov)
    with pytest.raises(ValueError, match=r"^covariate 'vix' is nan$"):
        fx.execute(closes[:10], [np.nan])


def test_missing_or_misshapen_covariates_are_one_line_errors() -> None:
    fx = FeatureExtraction(covariates=("vix", "rate"))
    closes = np.linspace(100, 110, 30)
    with pytest.raises(ValueError, match="config has covariates vix, rate: pass their values"):
        fx.transform(closes, 10)
    with pytest.raises(ValueError, match="config has covariates vix, rate"):
        fx.execute(closes[:10])
    with pytest.raises(ValueError, match=r"must have shape \(30, 2\).*got \(29, 2\)"):
        fx.transform(closes, 10, covariates=np.zeros((29, 2)))
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        fx.execute(closes[:10], [1.0])
    with pytest.raises(ValueError, match="covariates must be numbers"):
        fx.execute(closes[:10], ["a", "b"])
    with pytest.raises(ValueError, match="the config has no covariates"):
        FeatureExtraction().execute(closes[:10], [1.0])
