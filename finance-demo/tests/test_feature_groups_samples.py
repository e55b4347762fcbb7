"""Each feature group on the shipped real samples: execute = transform, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from data_fetcher import load_sample
from data_fetcher.sample import SAMPLE_SYMBOLS
from feature_extraction import GROUP_CHOICES, FeatureExtraction
from finance_demo import PipelineSpec
from finance_demo.dataset import feature_inputs

OHLCV = ["Open", "High", "Low", "Close", "Volume"]


@pytest.fixture(scope="module", params=SAMPLE_SYMBOLS)
def candles(request):
    """The last 1,200 candles of a shipped sample (daily stocks, an index, hourly FX)."""
    return load_sample(request.param).iloc[-1200:]


@pytest.mark.parametrize("group", GROUP_CHOICES)
@pytest.mark.parametrize(("b", "stride"), [(50, 1), (37, 4)])
def test_group_parity_on_samples(group, b, stride, candles):
    fx = FeatureExtraction(groups=(group,), normalize="last")
    data = feature_inputs(candles, fx.config)
    assert data.shape == ((len(candles), 5) if fx.needs_ohlcv else (len(candles),))
    bulk = fx.transform(data, b, stride=stride)
    n = (len(data) - b) // stride + 1
    live = np.stack([fx.execute(data[i * stride : i * stride + b]) for i in range(n)])
    assert bulk.shape == (n, fx.n_features)
    assert np.array_equal(bulk, live)
    assert np.isfinite(bulk).all()


def test_all_groups_on_samples_and_the_dataset(candles):
    spec = PipelineSpec.build(buffer_size=40, seq_len=3, groups=tuple(GROUP_CHOICES))
    fx = FeatureExtraction.from_config(spec.features)
    rows = candles[OHLCV].to_numpy(dtype=np.float64)
    bulk = fx.transform(rows, 40)
    assert np.array_equal(
        bulk[::97], np.stack([fx.execute(rows[i : i + 40]) for i in range(0, len(bulk), 97)])
    )
    assert spec.model.input_dim == bulk.shape[1] == 22
