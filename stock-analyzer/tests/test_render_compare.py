from finance_demo import ComparisonReport
from stock_analyzer.render_compare import comparison_verdict


def report(tests):
    """``{kind: (DM stat vs persistence, its p, DM stat vs EWMA at p 0.01)}``."""
    points, bands = {}, {}
    for kind, (stat, p, ewma) in tests.items():
        points[kind] = {"diebold_mariano": {"statistic": stat, "pvalue": p}}
        bands[kind] = {"dm_ewma_winkler": {"statistic": ewma, "pvalue": 0.01}}
    metrics = {"h1": {"points": points, "intervals": bands}}
    return ComparisonReport(
        symbol="X", interval="1d", kinds=tuple(tests), level=0.9, horizons=(1,), step_size=1,
        settings={}, folds=[], predictions={}, metrics=metrics, versions={}, seconds=0.0,
    )  # fmt: skip


def test_the_verdict_names_the_winners():
    rep = report({"lstm": (-3.0, 0.001, -2.0), "gbdt": (-3.0, 0.001, 2.0)})
    assert comparison_verdict(rep) == (
        "lstm beats persistence (MAE) and EWMA (Winkler) significantly at 5% on every horizon."
    )


def test_the_verdict_says_no_kind_and_what_was_beaten_alone():
    rep = report({"lstm": (1.0, 0.3, -2.0), "gbdt": (-3.0, 0.001, 2.0), "rf": (1.0, 0.3, 1.0)})
    assert comparison_verdict(rep) == (
        "No kind beats both persistence (MAE) and EWMA (Winkler) significantly at 5% "
        "(persistence alone is beaten by gbdt; EWMA alone is beaten by lstm)."
    )
