import numpy as np
import pytest
from finance_demo import System, batch_predict, pipeline_of
from signal_processing import Buffer


def stream(system, candles, start=0):
    out = {}
    for t, c in zip(candles.index[start:], candles["Close"].to_numpy()[start:], strict=True):
        pred = system.process_candle(t, c)
        if pred is not None:
            out[pred.tick] = pred
    return out


# The System keeps its last seq_len feature vectors in a Buffer of vectors (its "ring").


def test_ring_keeps_last_vectors_in_order(tiny_model):
    ring = System(tiny_model).ring
    assert isinstance(ring, Buffer) and ring.buffer_size == pipeline_of(tiny_model).seq_len
    ring = Buffer(3, channel_shape=(2,))
    for i in range(5):
        ring.push([i, -i])
    assert ring.full and ring.ticks == 5
    np.testing.assert_array_equal(ring.get_window(copy=False)[:, 0], [2, 3, 4])
    ring.extend(np.arange(20.0).reshape(10, 2))
    np.testing.assert_array_equal(ring.get_window(copy=False)[:, 0], [14, 16, 18])
    assert ring.ticks == 15
    ring.reset()
    assert not ring.full


def test_ring_sequence_is_a_view():
    ring = Buffer(4, channel_shape=(6,))
    for i in range(9):
        ring.push(np.full(6, i))
    seq = ring.get_window(copy=False)
    assert seq.base is not None and seq.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("fixture", ["tiny_model", "stepped_model"])
def test_streaming_equals_batch(fixture, request, candles):
    model = request.getfixturevalue(fixture)
    live = stream(System(model), candles)
    batch = batch_predict(model, candles)
    p = pipeline_of(model)
    assert sorted(live) == sorted(set(batch["tick"]))
    for k, h in enumerate(p.horizons):
        rows = batch[batch["horizon"] == h].set_index("tick")
        for name, col in (
            ("mean", "predicted_return"),
            ("lower", "lower_return"),
            ("upper", "upper_return"),
        ):
            got = np.array([getattr(live[t], name)[k] for t in rows.index])
            np.testing.assert_allclose(got, rows[col].to_numpy(), rtol=0, atol=1e-6)


_REFERENCE = {}


def test_warm_up_matches_streaming(args, request, candles):
    model = request.getfixturevalue(args["model"])
    if args["model"] not in _REFERENCE:
        _REFERENCE[args["model"]] = stream(System(model), candles)
    reference = _REFERENCE[args["model"]]
    system = System(model)
    warm = args["warm"]
    system.warm_up(candles["Close"].to_numpy()[:warm])
    got = stream(system, candles, start=warm)
    expected = {t: p for t, p in reference.items() if t >= warm}
    assert sorted(got) == sorted(expected)
    for t in expected:
        np.testing.assert_allclose(got[t].mean, expected[t].mean, atol=1e-9)


def test_first_tick_after_warm_up_predicts(tiny_model, candles):
    system = System(tiny_model)
    assert system.warm_up(candles["Close"].to_numpy()[:100]) == pipeline_of(tiny_model).seq_len
    assert system.process_candle(candles.index[100], candles["Close"].iloc[100]) is not None


def test_warm_up_needs_fresh_system(tiny_model, candles):
    system = System(tiny_model)
    system.process_candle(candles.index[0], 1.0)
    with pytest.raises(RuntimeError, match="fresh System"):
        system.warm_up([1.0, 2.0])
    system.reset()
    assert system.warm_up(candles["Close"].to_numpy()[:50]) > 0


def test_modules_and_outputs(tiny_model, candles):
    system = System(tiny_model)
    assert list(system.modules) == ["features", "predictor"]
    stream(system, candles.iloc[:60])
    assert system.outputs["features"].shape == (6,)
    assert system.outputs["predictor"].mean.shape == (1,)


def test_model_without_pipeline_is_refused():
    class Bare:
        def __init__(self):
            self.metadata = {}

    with pytest.raises(ValueError, match="no pipeline settings"):
        System(Bare())
