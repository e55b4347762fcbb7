import dataclasses
import json

import numpy as np
import pytest
from finance_demo import (
    InsufficientDataError,
    batch_predict,
    build_dataset,
    evaluate,
    spec_of,
    split_dataset,
    train_model,
)

from model import Model


def test_metadata_holds_what_the_live_loop_needs(tiny_model, tiny_settings):
    meta = tiny_model.metadata
    spec = spec_of(tiny_model)
    assert (spec.symbol, spec.interval) == ("WALK", "1d")
    assert spec == dataclasses.replace(
        tiny_settings.pipeline, symbol="WALK", interval="1d", price_decimals=spec.price_decimals
    )
    assert spec.features.window_size == 4 and spec.level == tiny_settings.evaluation.level
    assert meta["training"]["epochs"] == 2
    assert 1 <= len(tiny_model.history) <= 2
    assert {"train_loss", "val_loss"} <= set(tiny_model.history[0])
    assert set(meta) == {"pipeline", "training", "dataset", "evaluation"}
    ds = meta["dataset"]
    assert ds["train"] > ds["val"] > 0 and ds["test"] > 0
    json.dumps(meta)  # JSON-able


def test_evaluation_matches_a_recomputation(tiny_model, candles, tiny_settings):
    ev = tiny_model.metadata["evaluation"]["h1"]
    t = tiny_settings.training
    data = build_dataset(candles, tiny_settings.pipeline)
    _, _, test = split_dataset(data, t.val_fraction, tiny_settings.evaluation.test_fraction)
    fc = tiny_model.forecast(test.X, level=0.9)
    y = test.y[:, 0]
    assert ev["samples"] == len(test)
    assert ev["mae"] == pytest.approx(np.mean(np.abs(fc.mean[:, 0] - y)))
    assert ev["mae_persistence"] == pytest.approx(np.mean(np.abs(y)))
    assert ev["always_up"] == pytest.approx(np.mean(y > 0))
    assert ev["coverage"] == pytest.approx(np.mean((fc.lower[:, 0] <= y) & (y <= fc.upper[:, 0])))
    assert evaluate(tiny_model, test.subset(slice(0, 0))) == {}


def test_saved_model_predicts_the_same(tiny_model, candles, tmp_path):
    path = tmp_path / "m.pt"
    tiny_model.save(path)
    loaded = Model.load(path)
    assert loaded.metadata == json.loads(json.dumps(tiny_model.metadata))
    a, b = batch_predict(tiny_model, candles), batch_predict(loaded, candles)
    np.testing.assert_allclose(a["predicted_return"], b["predicted_return"], atol=1e-9)


def test_batch_predict_columns(stepped_model, candles):
    out = batch_predict(stepped_model, candles)
    assert list(out["horizon"].unique()) == [1, 3]
    assert out["time"].dt.tz is not None
    np.testing.assert_allclose(
        out["predicted_price"], out["close"] * np.exp(out["predicted_return"])
    )
    assert (out["lower_price"] <= out["upper_price"]).all()
    past_the_end = out["tick"] + out["horizon"] >= len(candles)
    assert past_the_end.any()
    assert out["realized_return"].isna().equals(past_the_end)


def test_too_little_history(candles, tiny_settings):
    with pytest.raises(InsufficientDataError, match="candles are too few"):
        train_model(candles.iloc[:20], tiny_settings)
    with pytest.raises(InsufficientDataError, match="too few to split"):
        train_model(candles.iloc[:40], tiny_settings)


def test_thread_count_is_restored(candles, tiny_settings):
    import torch

    before = torch.get_num_threads()
    train_model(candles.iloc[:150], tiny_settings)
    assert torch.get_num_threads() == before
