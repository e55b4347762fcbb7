"""MultiSystem's stacked buffers: each symbol's own state, whatever the others do."""

import dataclasses

import numpy as np
import pytest
from finance_demo import Prediction, System, bind_symbol, train_global
from finance_demo.multi_live import _PREDICTION_FIELDS, MultiSystem


@pytest.fixture(scope="module")
def walks(make_candles):
    return {f"W{i}": make_candles(200, seed=30 + i) for i in range(4)}


@pytest.fixture(scope="module")
def global_model(walks, tiny_settings):
    return train_global(walks, tiny_settings, interval="1d")


def test_skipped_ticks_and_own_pushes_keep_each_symbols_state(
    global_model, walks, tiny_model, stepped_model, make_candles
):
    models = {s: bind_symbol(global_model, s) for s in walks}
    models["SOLO"], models["STEP"] = tiny_model, stepped_model  # other rings and steps
    frames = {**walks, "SOLO": make_candles(200, seed=98), "STEP": make_candles(200, seed=97)}
    multi = MultiSystem(models)
    single = {s: System(m) for s, m in models.items()}
    for s, f in frames.items():  # warmed up on their own, after the stacking
        closes = f["Close"].to_numpy()[: 40 + 3 * len(s)]
        multi.systems[s].warm_up(closes)
        single[s].warm_up(closes)
    pos = {s: 40 + 3 * len(s) for s in frames}
    rng = np.random.default_rng(1)
    seen = 0
    for t in range(120):
        names = [s for s in frames if rng.random() < 0.75]  # the others skip this tick
        step = {}
        for s in names:
            f, i = frames[s], pos[s]
            step[s] = (f.index[i], float(f["Close"].iloc[i]))
            pos[s] += 1
        preds = multi.step(step)
        ones = {s: single[s].process_candle(*step[s]) for s in step}
        assert set(preds) == {s for s, p in ones.items() if p is not None}
        if t % 9 == 4:  # one symbol through its own System: the stack sees it
            s = names[0] if names else "W0"
            f, i = frames[s], pos[s]
            mine = multi.systems[s].process_candle(f.index[i], float(f["Close"].iloc[i]))
            theirs = single[s].process_candle(f.index[i], float(f["Close"].iloc[i]))
            assert (mine is None) == (theirs is None)
            pos[s] += 1
        for s, p in preds.items():
            q = ones[s]
            assert p.tick == q.tick and p.time == q.time and p.close == q.close
            assert p.horizons == q.horizons and p.seq is None
            for name in ("mean", "lower", "upper", "sigma"):
                np.testing.assert_allclose(getattr(p, name), getattr(q, name), atol=1e-6)
            seen += 1
    assert seen > 250
    assert {s: m.tick for s, m in multi.systems.items()} == {s: m.tick for s, m in single.items()}


def test_predictions_have_every_field(global_model, walks):
    assert set(_PREDICTION_FIELDS) == {f.name for f in dataclasses.fields(Prediction)}
    multi = MultiSystem({s: bind_symbol(global_model, s) for s in walks})
    for s, f in walks.items():
        multi.systems[s].warm_up(f["Close"].to_numpy()[:100])
    preds = multi.step({s: (f.index[100], float(f["Close"].iloc[100])) for s, f in walks.items()})
    assert set(preds) == set(walks)
    p = preds["W0"]
    assert isinstance(p, Prediction) and "mean=" in repr(p)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.close = 1.0
    assert dataclasses.replace(p, close=2.0).close == 2.0
