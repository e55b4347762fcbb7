"""The multi-symbol live loop teaches each symbol's adaptive ensemble, as the single loop."""

import copy
import io
import json

import numpy as np
import pytest
from data_fetcher import Fetcher, MultiFetcher
from data_fetcher.sample import load_sample
from finance_demo import Activator, System, load_settings, train_model
from finance_demo.multi_live import MultiActivator, MultiSystem

TINY = {
    "buffer": {"buffer_size": 20, "step_size": 1},
    "features": {"window_size": 4, "groups": ["trend_fft"]},
    "model": {"seq_len": 6, "hidden_dim": 8, "num_layers": 1},
    "training": {"epochs": 2, "batch_size": 64, "val_fraction": 0.2, "seed": 0},
    "evaluation": {"test_fraction": 0.2},
}
REPLAY = 80  # live candles after the warm-up


@pytest.fixture(scope="module")
def samples():
    """The last 400 real daily candles of two shipped samples."""
    return {s: load_sample(s).iloc[-400:] for s in ("MSFT", "IBM")}


@pytest.fixture(scope="module")
def ensembles(samples):
    settings = load_settings(TINY)
    return {
        s: train_model(c, settings, symbol=s, interval="1d", kind="ensemble")
        for s, c in samples.items()
    }


def _records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_symbols_ensemble_learns_the_single_loops_weights(samples, ensembles):
    trained = {s: e.weights.copy() for s, e in ensembles.items()}
    models = {s: copy.deepcopy(e) for s, e in ensembles.items()}
    log = io.StringIO()
    fetcher = MultiFetcher.from_frames(samples, interval="1d", replay_start=-REPLAY)
    multi = MultiActivator(fetcher, MultiSystem(models), log=log, handle_signals=False)
    summary = multi.execute()
    assert summary.stopped == "exhausted"
    records = _records(log)
    for s, candles in samples.items():
        alone = copy.deepcopy(ensembles[s])
        one = io.StringIO()
        feed = Fetcher.from_frame(candles, symbol=s, interval="1d", replay_start=-REPLAY)
        single = Activator(feed, System(alone), log=one, handle_signals=False).execute()
        lane = summary.symbols[s]
        assert lane.ticks == single.ticks == REPLAY
        assert lane.observed == single.observed == REPLAY - 1 > 0
        # the same outcomes taught: the same errors window and weights
        np.testing.assert_allclose(models[s].errors, alone.errors, rtol=0, atol=1e-8)
        np.testing.assert_allclose(models[s].weights, alone.weights, rtol=1e-6)
        assert lane.weights == pytest.approx(single.weights, rel=1e-6)
        assert lane.weights == pytest.approx(models[s].weights.tolist(), rel=1e-12)
        assert not np.allclose(models[s].weights, trained[s], rtol=1e-4)  # they moved
        # every record of the symbol carries the weights the single loop wrote
        mine = [r for r in records if r["symbol"] == s]
        theirs = _records(one)
        assert [r["type"] for r in mine] == [r["type"] for r in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert a["time"] == b["time"] and a["horizon"] == b["horizon"]
            assert a["predicted_return"] == pytest.approx(b["predicted_return"], abs=1e-6)
            assert a["weights"] == pytest.approx(b["weights"], rel=1e-6)
        assert json.loads(json.dumps(summary.to_dict()))["symbols"][s]["weights"] == lane.weights
    # two symbols, two ensembles: each learned its own outcomes
    assert not np.allclose(models["MSFT"].weights, models["IBM"].weights, rtol=1e-4)
