import math

import pytest

from model import metrics


def test_point_metric(args, expected):
    fn = getattr(metrics, args["name"])
    assert fn(args["y"], args["p"]) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_interval_metric(args, expected):
    fn = getattr(metrics, args["name"])
    extra = [args["level"]] if "level" in args else []
    assert fn(args["y"], args["lo"], args["hi"], *extra) == pytest.approx(expected, rel=1e-12)


def test_metric_errors(args, expected):
    fn = getattr(metrics, args["name"])
    extra = [args["level"]] if "level" in args else []
    with pytest.raises(ValueError, match=expected):
        fn(*args["arrays"], *extra)


def test_skill_is_nan_when_every_outcome_is_zero():
    assert math.isnan(metrics.skill([0.0, 0.0], [0.1, 0.0]))


def test_metrics_return_python_floats():
    assert type(metrics.mae([1.0], [0.0])) is float
