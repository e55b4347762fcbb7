import math
import re

import numpy as np
import pytest
from finance_demo.stats import (
    TestResult,
    binomial_test,
    conformal_quantile,
    diebold_mariano,
    ewma_sigma,
    pesaran_timmermann,
    ridge_fit_predict,
    wilson_interval,
)


def close(a, b, tol=1e-6):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and np.allclose(a, b, atol=tol, rtol=0, equal_nan=True)


def test_wilson_interval(args, expected):
    assert close(wilson_interval(**args), expected)


def test_wilson_interval_errors(args, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        wilson_interval(**args)


def test_binomial_test(args, expected):
    result = binomial_test(**args)
    assert close(result.pvalue, expected, 1e-12)
    if math.isfinite(expected):
        assert result.statistic == pytest.approx(args["hits"] / args["n"])


def test_pesaran_timmermann(args, expected):
    result = pesaran_timmermann(np.array(args["y_true"]), np.array(args["y_pred"]))
    assert close([result.statistic, result.pvalue], [expected["statistic"], expected["pvalue"]])


def test_diebold_mariano(args, expected):
    result = diebold_mariano(**args)
    assert close([result.statistic, result.pvalue], [expected["statistic"], expected["pvalue"]])


def test_conformal_quantile(args, expected):
    value = conformal_quantile(np.array(args["scores"], float), args["level"])
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


def test_ewma_sigma(args, expected):
    assert close(ewma_sigma(np.array(args.pop("returns"), float), **args), expected, 1e-8)


def test_ewma_sigma_errors(args, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        ewma_sigma(np.array(args.pop("returns"), float), **args)


def test_diebold_mariano_refuses_unequal_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        diebold_mariano(np.zeros(5), np.zeros(4))


def test_ewma_sigma_is_causal():
    r = np.random.default_rng(1).normal(0, 0.01, 300)
    full = ewma_sigma(r)
    changed = r.copy()
    changed[150:] *= 5.0
    assert np.array_equal(ewma_sigma(changed)[:150], full[:150])
    assert not np.allclose(ewma_sigma(changed)[150:], full[150:])


def test_conformal_quantile_covers_on_exchangeable_data():
    rng = np.random.default_rng(2)
    scores = np.abs(rng.normal(size=1000))
    q = conformal_quantile(scores[:500], 0.9)
    assert 0.86 <= np.mean(scores[500:] <= q) <= 0.94


def test_ridge_recovers_a_linear_signal_and_scales_on_training_rows():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 5, 2))
    w = rng.normal(size=10)
    y = x.reshape(400, -1) @ w + 0.3
    pred, alpha = ridge_fit_predict(x[:300], y[:300], x[300:] + 0.0, alphas=(1e-6, 1e3))
    assert alpha == 1e-6  # the holdout picks the small penalty for a noiseless signal
    assert pred.shape == (100, 1)
    assert np.allclose(pred[:, 0], y[300:], atol=1e-4)


def test_ridge_picks_strong_shrinkage_on_noise():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 40))
    y = rng.normal(size=300)
    pred, alpha = ridge_fit_predict(x, y, x[:10], alphas=(1e-3, 1e5))
    assert alpha == 1e5
    assert np.allclose(pred, y.mean(), atol=0.05)


def test_ridge_needs_rows():
    with pytest.raises(ValueError, match="needs training rows"):
        ridge_fit_predict(np.zeros((0, 3)), np.zeros(0), np.zeros((2, 3)))


def test_test_result_to_dict_is_json_safe():
    assert TestResult(float("nan"), 0.5).to_dict() == {"statistic": None, "pvalue": 0.5}


def test_tests_reject_about_five_percent_under_the_null():
    """Null size: independent signs (PT) and equally good forecasts (DM), 400 trials."""
    rng = np.random.default_rng(5)
    trials, n = 400, 250
    pt = dm = binom = 0
    for _ in range(trials):
        y = rng.normal(size=n)
        pred = rng.normal(size=n)
        pt += pesaran_timmermann(y, pred).pvalue < 0.05
        dm += diebold_mariano(rng.normal(size=n), rng.normal(size=n)).pvalue < 0.05
        hits = int(np.sum(np.sign(pred) == np.sign(y)))
        binom += binomial_test(hits, n, 0.5).pvalue < 0.05
    # 400 trials: a 5 % rate gives 20 +/- 4.4 rejections; the binomial test is exact and
    # discrete, so it rejects a little less than 5 %.
    for name, count in (("PT", pt), ("DM", dm), ("binomial", binom)):
        assert 8 <= count <= 34, f"{name} rejected {count}/{trials}"


def test_dm_and_pt_detect_a_real_effect():
    rng = np.random.default_rng(6)
    y = rng.normal(size=500)
    good = y + rng.normal(scale=0.5, size=500)
    assert pesaran_timmermann(y, good).pvalue < 1e-6
    assert diebold_mariano(y - good, y).statistic < 0
    assert diebold_mariano(y - good, y).pvalue < 1e-6
