"""The direction and trend heads on the live path: System, the JSONL log, the batched loop."""

import dataclasses
import json

import numpy as np
import pytest
from data_fetcher import Fetcher
from finance_demo import Activator, System, train_model
from finance_demo.multi_live import MultiSystem


@pytest.fixture(scope="module")
def head_model(candles, tiny_settings):
    net = dataclasses.replace(tiny_settings.model, heads=("return", "direction", "trend"))
    settings = dataclasses.replace(tiny_settings, model=net)
    return train_model(candles, settings, symbol="WALK", interval="1d")


def test_live_prediction_carries_the_heads_p_up(head_model, tiny_model, candles):
    system = System(head_model)
    closes = candles["Close"].to_numpy()
    system.warm_up(closes[:-5])
    preds = [
        system.process_candle(t, c) for t, c in zip(candles.index[-5:], closes[-5:], strict=True)
    ]
    preds = [p for p in preds if p is not None]
    assert preds
    for pred in preds:  # the head's answer for exactly the input the prediction used
        batch = head_model.forecast(pred.seq[None], level=system.level)
        assert np.allclose(pred.p_up, np.asarray(batch.p_up).ravel(), rtol=1e-9, atol=0)
        assert np.all((pred.p_up > 0) & (pred.p_up < 1))
        assert np.allclose(pred.trend, np.asarray(batch.trend).ravel(), rtol=1e-6, atol=1e-7)
        assert np.all((pred.trend > -1) & (pred.trend < 1))
    plain = System(tiny_model)
    plain.warm_up(closes[:-1])
    last = plain.process_candle(candles.index[-1], closes[-1])
    assert last.p_up is None and last.trend is None


def test_log_records_p_up_and_the_batched_loop_agrees(head_model, candles, tmp_path):
    log = tmp_path / "p.jsonl"
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-3)
    Activator(fetcher, System(head_model), log=log).execute()
    records = [json.loads(x) for x in log.read_text().splitlines()]
    preds = [r for r in records if r["type"] == "prediction"]
    assert preds and all(0 < r["p_up"] < 1 and -1 < r["trend"] < 1 for r in preds)
    multi = MultiSystem({"WALK": head_model})
    closes = candles["Close"].to_numpy()
    one = System(head_model)
    one.warm_up(closes[:-1])
    multi.systems["WALK"].warm_up(closes[:-1])
    got = multi.step({"WALK": (candles.index[-1], closes[-1])})["WALK"]
    ref = one.process_candle(candles.index[-1], closes[-1])
    assert np.allclose(got.p_up, ref.p_up, rtol=1e-9, atol=1e-12)
    assert np.allclose(got.trend, ref.trend, rtol=1e-9, atol=1e-12)
