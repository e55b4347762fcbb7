"""Significance tests and baselines for the walk-forward backtest.

Every function works on plain numpy arrays of realized and predicted log returns, so the
same numbers can be recomputed from a backtest's JSON report in a notebook. scipy gives
the exact binomial, Student-t and normal distributions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st
from scipy.signal import lfilter

__all__ = [
    "TestResult",
    "binomial_test",
    "conformal_quantile",
    "diebold_mariano",
    "ewma_sigma",
    "pesaran_timmermann",
    "ridge_fit_predict",
    "wilson_interval",
]

#: Default ridge penalties (on standardized inputs; the Gram diagonal is ``n``).
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


@dataclass(frozen=True)
class TestResult:
    """A test statistic and its p-value (``nan`` where the test is undefined).

    Examples:
        >>> TestResult(1.5, float("nan")).to_dict()
        {'statistic': 1.5, 'pvalue': None}
    """

    __test__ = False  # not a pytest test class

    statistic: float
    pvalue: float

    def to_dict(self) -> dict[str, float | None]:
        """Return a JSON-able dict (``None`` for ``nan``)."""
        return {
            k: (None if not math.isfinite(v) else float(v))
            for k, v in (("statistic", self.statistic), ("pvalue", self.pvalue))
        }


def wilson_interval(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score confidence interval of a proportion.

    Args:
        hits: Number of successes.
        n: Number of trials.
        level: Confidence level.

    Returns:
        ``(low, high)``; ``(nan, nan)`` when ``n == 0``.

    Raises:
        ValueError: ``hits`` outside ``[0, n]`` or ``level`` outside ``(0, 1)``.

    Examples:
        >>> low, high = wilson_interval(60, 100)
        >>> round(low, 3), round(high, 3)
        (0.502, 0.691)
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= hits <= n:
        raise ValueError(f"hits must be in [0, {n}], got {hits}")
    z = float(_st.norm.ppf(0.5 + level / 2))
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def binomial_test(hits: int, n: int, p0: float) -> TestResult:
    """One-sided exact binomial test that the hit rate exceeds ``p0``.

    Used to compare direction accuracy with the "always up" rate on the same targets.
    ``p0`` is itself measured on those targets, so the test is slightly liberal; the
    Pesaran–Timmermann test accounts for both marginal rates.

    Args:
        hits: Correct direction calls.
        n: Calls made.
        p0: The hit rate under the null (e.g. the share of up moves).

    Returns:
        The observed hit rate and ``P(X >= hits)`` under ``Binomial(n, p0)``.
    """
    if n <= 0 or not 0.0 < p0 < 1.0:
        return TestResult(math.nan, math.nan)
    return TestResult(hits / n, float(_st.binom.sf(hits - 1, n, p0)))


def pesaran_timmermann(y_true: np.ndarray, y_pred: np.ndarray) -> TestResult:
    """Pesaran–Timmermann (1992) test of predictive direction accuracy.

    Tests whether predicted and realized signs are independent; a large positive statistic
    means the forecast calls direction better than chance given both marginal up-rates.
    "Up" means ``> 0``.

    Args:
        y_true: Realized returns.
        y_pred: Predicted returns.

    Returns:
        The standard-normal statistic and its one-sided p-value; ``nan`` when a forecast
        or the outcome never changes sign (the test is undefined then).
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    n = y_true.size
    if n < 2 or y_pred.size != n:
        return TestResult(math.nan, math.nan)
    up_true = y_true > 0
    up_pred = y_pred > 0
    py = float(up_true.mean())
    px = float(up_pred.mean())
    if px in (0.0, 1.0) or py in (0.0, 1.0):
        return TestResult(math.nan, math.nan)
    p_hat = float(np.mean(up_true == up_pred))
    p_star = py * px + (1 - py) * (1 - px)
    var_p = p_star * (1 - p_star) / n
    var_star = (
        (2 * py - 1) ** 2 * px * (1 - px) / n
        + (2 * px - 1) ** 2 * py * (1 - py) / n
        + 4 * py * px * (1 - py) * (1 - px) / n**2
    )
    diff = var_p - var_star
    if diff <= 0:
        return TestResult(math.nan, math.nan)
    stat = (p_hat - p_star) / math.sqrt(diff)
    return TestResult(stat, float(_st.norm.sf(stat)))


def diebold_mariano(
    err_model: np.ndarray, err_reference: np.ndarray, horizon: int = 1
) -> TestResult:
    """Diebold–Mariano test on absolute errors, with the Harvey et al. (1997) correction.

    The loss differential is ``|e_model| - |e_reference|``; a negative statistic means the
    model's MAE is lower. Its long-run variance uses ``horizon - 1`` autocovariance lags
    (forecasts ``h`` steps ahead overlap; falls back to the plain variance if that sum is
    not positive), and the p-value is two-sided from Student's t with ``n - 1`` degrees
    of freedom.

    Args:
        err_model: Forecast errors of the model.
        err_reference: Forecast errors of the reference (e.g. persistence) on the same
            targets.
        horizon: Forecast horizon in samples (``ceil(h / step_size)``).

    Returns:
        The corrected statistic and its two-sided p-value (``nan`` if the differential is
        constant or shorter than 3).

    Raises:
        ValueError: The two error arrays differ in size.
    """
    a = np.asarray(err_model, float).ravel()
    b = np.asarray(err_reference, float).ravel()
    if a.size != b.size:
        raise ValueError(f"error arrays differ in size ({a.size} vs {b.size})")
    d = np.abs(a) - np.abs(b)
    n = d.size
    if n < 3:
        return TestResult(math.nan, math.nan)
    mean = float(d.mean())
    centred = d - mean
    gamma0 = float(centred @ centred) / n
    lrv = gamma0
    h = max(1, int(horizon))
    for lag in range(1, min(h, n)):
        lrv += 2 * float(centred[lag:] @ centred[:-lag]) / n
    if lrv <= 0:
        lrv = gamma0
    if lrv <= 0:
        return TestResult(math.nan, math.nan)
    dm = mean / math.sqrt(lrv / n)
    correction = math.sqrt(max(0.0, (n + 1 - 2 * h + h * (h - 1) / n) / n))
    stat = dm * correction
    return TestResult(stat, float(2 * _st.t.sf(abs(stat), df=n - 1)))


def _ridge_gram(x: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
    """What every penalty's fit on ``x`` shares: scaling, ``z'z``, ``z'(y - mean)``."""
    mu, sd = x.mean(0), x.std(0)
    sd[sd < 1e-12] = 1.0
    z = (x - mu) / sd
    ym = y.mean(0)
    return mu, sd, z.T @ z, z.T @ (y - ym), ym


def _ridge_fit(gram: tuple[Any, ...], alpha: float):
    """Fit ridge on standardized ``x`` (statistics of ``x`` only), intercept unpenalized."""
    mu, sd, ztz, zty, ym = gram
    w = np.linalg.solve(ztz + alpha * np.eye(ztz.shape[0]), zty)
    return lambda q: ((q - mu) / sd) @ w + ym


def ridge_fit_predict(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    alphas: tuple[float, ...] = RIDGE_ALPHAS,
    val_fraction: float = 0.15,
    gap: int = 0,
) -> tuple[np.ndarray, float]:
    """Ridge regression on standardized, flattened sequences; alpha picked on a holdout.

    The last ``val_fraction`` of the (time-ordered) training rows chooses alpha by MAE
    (the ``gap`` rows before it are left out, so no fitting target overlaps it); the
    model is then refitted on all training rows. Scaling uses training rows only.

    Args:
        x_train: ``(n, ...)`` training inputs (flattened to 2-D).
        y_train: ``(n,)`` or ``(n, H)`` targets.
        x_test: ``(m, ...)`` inputs to predict.
        alphas: Candidate penalties.
        val_fraction: Share of training rows used to choose alpha.
        gap: Rows purged between the fitting and the holdout rows.

    Returns:
        ``(predictions (m, H), chosen alpha)``.

    Raises:
        ValueError: No training rows or no alphas.

    Examples:
        >>> x = np.arange(40.0).reshape(20, 2)
        >>> pred, alpha = ridge_fit_predict(x, x[:, 0] * 2.0, x[:2], alphas=(1e-6,))
        >>> np.round(pred.ravel(), 3).tolist(), alpha
        ([0.0, 4.0], 1e-06)
    """
    if len(x_train) == 0 or not alphas:
        raise ValueError("ridge_fit_predict needs training rows and at least one alpha")
    with _one_blas_thread():
        return _ridge_select(x_train, y_train, x_test, alphas, val_fraction, gap)


def _one_blas_thread() -> Any:
    """One BLAS thread for a block (``threadpoolctl``, when installed).

    The ridge's small products and solves gain nothing from a second thread, and on a
    2-core machine a waiting one made them up to 20x slower (0.1 s for a 120 x 120
    solve). The numbers are the same up to rounding in the last bits (about 1e-16
    relative), and now the same in every process, whatever its BLAS threads.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with the garch extra
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _ridge_select(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    alphas: tuple[float, ...],
    val_fraction: float,
    gap: int,
) -> tuple[np.ndarray, float]:
    """The body of :func:`ridge_fit_predict`: choose alpha on the holdout, refit on all."""
    xtr = np.asarray(x_train, float).reshape(len(x_train), -1)
    xte = np.asarray(x_test, float).reshape(len(x_test), -1)
    ytr = np.asarray(y_train, float).reshape(len(y_train), -1)
    n_val = round(len(xtr) * val_fraction)
    n_fit = len(xtr) - n_val - gap
    best = alphas[0]
    if len(alphas) > 1 and n_val > 0 and n_fit >= 2:
        errors = []
        gram = _ridge_gram(xtr[:n_fit], ytr[:n_fit])  # once for every alpha
        for alpha in alphas:
            f = _ridge_fit(gram, alpha)
            errors.append(float(np.mean(np.abs(f(xtr[-n_val:]) - ytr[-n_val:]))))
        best = alphas[int(np.argmin(errors))]
    return _ridge_fit(_ridge_gram(xtr, ytr), best)(xte), best


def ewma_sigma(returns: np.ndarray, lam: float = 0.94, init_window: int = 30) -> np.ndarray:
    """RiskMetrics EWMA volatility known at each tick (uses returns up to and including t).

    ``s2[t] = lam * s2[t-1] + (1 - lam) * r[t]**2`` from ``t = init_window`` on; before
    that, ``s2[t]`` is the mean square of ``r[0..t]`` (so nothing after ``t`` is used).
    ``NaN`` returns (e.g. the first, which has no previous close) count as 0.

    Args:
        returns: One-step log returns, ``returns[t] = log(close[t] / close[t-1])``.
        lam: Decay factor (0.94 is RiskMetrics' daily value).
        init_window: Returns averaged to start the recursion.

    Returns:
        ``sigma[t]``, the one-step volatility forecast made at ``t``.

    Raises:
        ValueError: ``lam`` outside ``[0, 1)`` or ``init_window < 1``.

    Examples:
        >>> ewma_sigma(np.array([0.0, 0.02, 0.02]), lam=0.5, init_window=2).round(4).tolist()
        [0.0, 0.0141, 0.0173]
    """
    if not 0.0 <= lam < 1.0:
        raise ValueError(f"lam must be in [0, 1), got {lam}")
    if init_window < 1:
        raise ValueError(f"init_window must be >= 1, got {init_window}")
    r2 = np.nan_to_num(np.asarray(returns, float).ravel()) ** 2
    s2 = np.empty_like(r2)
    k = min(init_window, r2.size)
    s2[:k] = np.cumsum(r2[:k]) / np.arange(1, k + 1)
    if r2.size > k:
        s2[k:] = lfilter([1.0 - lam], [1.0, -lam], r2[k:], zi=[lam * s2[k - 1]])[0]
    return np.sqrt(s2)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """Split-conformal quantile with the finite-sample ``(n + 1)`` correction.

    The rule of ``model.ConformalCalibration`` (which computes it): the
    ``ceil((n + 1) * level)``-th smallest score, ``inf`` when that exceeds ``n`` (too few
    scores for ``level``).

    Args:
        scores: Non-conformity scores on the calibration part (e.g. ``|y| / sigma``).
        level: Target coverage in ``(0, 1)``.

    Returns:
        The quantile (``nan`` without scores).

    Raises:
        ValueError: ``level`` outside ``(0, 1)``.

    Examples:
        >>> conformal_quantile(np.arange(1.0, 10.0), 0.8)
        8.0
    """
    from model.calibration import ConformalCalibration, check_level

    check_level(level)
    column = np.asarray(scores, float).reshape(-1, 1)
    if column.size == 0:
        return math.nan
    return float(ConformalCalibration(column).quantile(level)[0])


def garch_available() -> bool:
    """Whether the ``arch`` package (``finance-demo[garch]``) is installed."""
    import importlib.util

    return importlib.util.find_spec("arch") is not None


def garch_sigma(log_close: np.ndarray, cut: int) -> np.ndarray:
    """One-step-ahead GARCH(1,1) volatility per tick, fitted on the returns up to ``cut``.

    A constant-mean GARCH(1,1) with Student-t innovations (the ``arch`` package) is fitted
    by maximum likelihood on the log returns of ticks ``1 .. cut`` only; with those
    parameters fixed, the conditional variance is filtered forward, so the value at tick
    ``t`` is the forecast, made with the closes up to ``t``, of the standard deviation of
    the return from ``t`` to ``t + 1``. No value uses a price after its tick.

    Args:
        log_close: Log closes, oldest first.
        cut: Last tick of the fitting part (``>= 10``).

    Returns:
        Sigma per tick (log-return units); ``nan`` at tick 0.

    Raises:
        ImportError: ``arch`` is not installed (``pip install 'finance-demo[garch]'``).
    """
    from arch import arch_model

    returns = np.diff(np.asarray(log_close, dtype=np.float64)) * 100.0  # percent: arch's scale
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the optimizer's sums then round the same way in every process (a
    # pool worker or a Ray worker runs single-threaded), so a backtest is identical on
    # every engine.
    with threadpool_limits(limits=1):
        fitted = model.fit(last_obs=cut, disp="off", show_warning=False)
        variance = fitted.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    out = np.full(len(log_close), np.nan)
    out[1:] = np.sqrt(variance) / 100.0  # row k: made at tick k + 1, for the next return
    return out
