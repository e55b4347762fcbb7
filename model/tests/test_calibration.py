from statistics import NormalDist

import numpy as np
import pytest

from model import ConformalCalibration


def test_conformal_quantile(args, expected):
    scores = np.arange(1.0, args["n"] + 1)[::-1].reshape(-1, 1)  # unsorted on purpose
    assert ConformalCalibration(scores).quantile(args["level"])[0] == expected


def test_uncalibrated_uses_gaussian_quantile():
    q = ConformalCalibration(None).quantile(0.9, n_outputs=2)
    assert q == pytest.approx([NormalDist().inv_cdf(0.95)] * 2)


def test_from_residuals_normalizes_by_sigma():
    cal = ConformalCalibration.from_residuals(
        np.array([[1.0], [-3.0]]), np.array([[0.0], [0.0]]), np.array([[2.0], [1.0]])
    )
    assert cal.scores[:, 0].tolist() == [0.5, 3.0]


def test_update_keeps_the_most_recent_window():
    cal = ConformalCalibration(np.array([[1.0], [2.0], [3.0]]))
    new = cal.update(np.array([[10.0], [20.0]]), window=3)
    assert new.scores[:, 0].tolist() == [3.0, 10.0, 20.0]
    assert cal.size == 3  # unchanged


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, True, "0.9"])
def test_bad_level(level):
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
        ConformalCalibration(None).quantile(level)


def test_bad_scores_and_window():
    with pytest.raises(ValueError, match="non-empty"):
        ConformalCalibration(np.zeros((0, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        ConformalCalibration(np.array([[-1.0]]))
    with pytest.raises(ValueError, match="window must be a positive integer"):
        ConformalCalibration(np.ones((2, 1))).update(np.ones((1, 1)), window=0)
