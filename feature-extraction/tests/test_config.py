"""FeatureConfig: "none" is the canonical raw-price value, None is accepted as it."""

import numpy as np
import pytest
from feature_extraction import FeatureExtraction
from feature_extraction.config import NORMALIZE_CHOICES, FeatureConfig


def test_none_is_stored_as_none_string():
    assert FeatureConfig(normalize=None).normalize == "none"
    assert FeatureConfig(normalize="none") == FeatureConfig(normalize=None)
    assert NORMALIZE_CHOICES == ("last", "none")


def test_none_means_raw_prices():
    x = np.linspace(10.0, 20.0, 12)
    raw = FeatureExtraction(normalize="none").execute(x)
    same = FeatureExtraction(normalize=None).execute(x)
    np.testing.assert_array_equal(raw, same)
    assert raw[0] == pytest.approx(np.mean(x[-5:]), rel=0.5)  # a price, not ~1
    assert FeatureExtraction(normalize="last").execute(x)[0] < 1.5


def test_from_dict_names_unknown_keys():
    assert FeatureConfig.from_dict({"normalize": "none"}).normalize == "none"
    with pytest.raises(ValueError, match=r"^unknown FeatureConfig field\(s\): windw "):
        FeatureConfig.from_dict({"windw": 3})
    with pytest.raises(ValueError, match=r"^normalize must be one of last, none"):
        FeatureConfig(normalize="first")
