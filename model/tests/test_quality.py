"""Quality on real data: the S&P 500 daily closes shipped in tests/data (see its README)."""

from pathlib import Path

import numpy as np
import pytest

from model import Model, TrainConfig, metrics

DATA = Path(__file__).parent / "data" / "sp500_close.csv.gz"
SEQ_LEN = 10
LEVEL = 0.9
RECALIBRATE_EVERY = 21  # trading days: about a month
WINDOW = 250  # calibration scores kept: about a year


def _rolling_std(r, w):
    c, c2 = np.cumsum(np.r_[0.0, r]), np.cumsum(np.r_[0.0, r * r])
    mean, mean2 = (c[w:] - c[:-w]) / w, (c2[w:] - c2[:-w]) / w
    out = np.full(r.shape, np.nan)
    out[w - 1 :] = np.sqrt(np.maximum(mean2 - mean * mean, 0.0))
    return out


def _ewma_vol(r, lam=0.94):
    var = np.empty_like(r)
    var[0] = r[:20].var()
    for i in range(1, len(r)):
        var[i] = lam * var[i - 1] + (1 - lam) * r[i] ** 2
    return np.sqrt(var)


def _dataset():
    """Features at t use returns up to t only; the target is the next log return."""
    closes = np.loadtxt(DATA, delimiter=",", usecols=1, skiprows=3)
    r = np.diff(np.log(closes))
    ev = _ewma_vol(r)
    features = np.column_stack(
        [
            r,
            r / ev,
            np.log(_rolling_std(r, 5)),
            np.log(_rolling_std(r, 20)),
            np.log(_rolling_std(r, 60)),
            np.log(ev),
        ]
    )
    ts = np.arange(59 + SEQ_LEN - 1, len(r) - 1)
    X = features[ts[:, None] - np.arange(SEQ_LEN)[::-1]].astype(np.float32)
    return X, r[ts + 1]


@pytest.mark.slow
def test_sp500_interval_quality():
    X, y = _dataset()
    assert np.isfinite(X).all() and len(y) == 4961
    n = len(y)
    a, b = int(0.7 * n), int(0.85 * n)
    m = Model()
    m.train(X[:a], y[:a], TrainConfig(epochs=100, patience=10, seed=0))
    m.calibrate(X[a:b], y[a:b])

    static = m.forecast(X[b:], LEVEL)
    # Walk forward through the test part: forecast a month, then add its outcomes to the
    # calibration (only past outcomes are ever used).
    lower, upper, mean = [], [], []
    for start in range(b, n, RECALIBRATE_EVERY):
        stop = min(start + RECALIBRATE_EVERY, n)
        f = m.forecast(X[start:stop], LEVEL)
        lower.append(f.lower[:, 0])
        upper.append(f.upper[:, 0])
        mean.append(f.mean[:, 0])
        m.update_calibration(X[start:stop], y[start:stop], window=WINDOW)
    lower, upper, mean = map(np.concatenate, (lower, upper, mean))
    yt = y[b:]

    cov = metrics.coverage(yt, lower, upper)
    wink = metrics.winkler_score(yt, lower, upper, LEVEL)
    lo, hi = np.quantile(y[:a], [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    const_lo, const_hi = np.full_like(yt, lo), np.full_like(yt, hi)
    const_cov = metrics.coverage(yt, const_lo, const_hi)
    const_wink = metrics.winkler_score(yt, const_lo, const_hi, LEVEL)
    print(
        f"\ntest n={len(yt)}  coverage={cov:.3f} (static calibration: "
        f"{metrics.coverage(yt, static.lower[:, 0], static.upper[:, 0]):.3f}, constant: "
        f"{const_cov:.3f})  winkler={wink:.5f} (static: "
        f"{metrics.winkler_score(yt, static.lower[:, 0], static.upper[:, 0], LEVEL):.5f}, "
        f"constant: {const_wink:.5f})\nMAE={metrics.mae(yt, mean):.6f}  "
        f"persistence MAE={metrics.mae(yt, np.zeros_like(yt)):.6f}  "
        f"skill={metrics.skill(yt, mean):+.4f}  "
        f"direction={metrics.direction_accuracy(yt, mean):.3f}"
    )
    assert 0.88 <= cov <= 0.92
    assert wink <= const_wink
