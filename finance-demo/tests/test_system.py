import copy
import json

import numpy as np
import pytest
from finance_demo import ForeignModelError, System, batch_predict, spec_of
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
    assert isinstance(ring, Buffer) and ring.buffer_size == spec_of(tiny_model).seq_len
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
    p = spec_of(model)
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
    assert system.warm_up(candles["Close"].to_numpy()[:100]) == spec_of(tiny_model).seq_len
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

    with pytest.raises(ForeignModelError, match="no pipeline spec"):
        System(Bare())


def _with_pipeline(model, pipeline):
    """A copy of ``model`` whose metadata records ``pipeline`` (the model is shared)."""
    clone = copy.copy(model)
    clone.metadata = {**model.metadata, "pipeline": pipeline}
    return clone


def _edit(path, value):
    def apply(spec):
        spec = copy.deepcopy(spec)
        *parents, key = path
        target = spec
        for p in parents:
            target = target[p]
        if value is _DROP:
            del target[key]
        else:
            target[key] = value
        return spec

    return apply


_DROP = object()

#: Broken model-file pipelines: each one is refused with one line naming the field.
BROKEN = {
    "unknown key": (_edit(("colour",), "red"), "unknown pipeline key 'colour'"),
    "list for mapping": (_edit(("buffer",), [20, 1]), "pipeline buffer must be a mapping"),
    "unknown buffer key": (_edit(("buffer", "size"), 3), "unknown BufferConfig"),
    "window_size 0": (_edit(("features", "window_size"), 0), "window_size"),
    "window above buffer": (_edit(("features", "window_size"), 50), "window_size must be <="),
    "normalize bogus": (_edit(("features", "normalize"), "zscore"), "normalize must be one of"),
    "level 2.0": (_edit(("level",), 2.0), "level"),
    "level nan": (_edit(("level",), float("nan")), "level"),
    "interval garbage": (_edit(("interval",), "soon"), "interval must be"),
    "symbol list": (_edit(("symbol",), ["A"]), "symbol must be"),
    "decimals negative": (_edit(("price_decimals",), -1), "price_decimals"),
    "two channels": (_edit(("buffer", "channel_shape"), [2]), "features per step"),
    "not a mapping": (lambda spec: [spec], "must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_pipeline_spec_is_one_line(case, tiny_model, candles):
    edit, match = BROKEN[case]
    broken = _with_pipeline(tiny_model, edit(tiny_model.metadata["pipeline"]))
    with pytest.raises(ForeignModelError, match=match) as info:
        System(broken)
    assert "\n" not in str(info.value)
    with pytest.raises(ForeignModelError):
        batch_predict(broken, candles.iloc[:80])


def test_horizons_are_the_networks(stepped_model, tiny_model):
    """seq_len and horizons live in the network config only: the spec cannot disagree."""
    assert "horizons" not in json.dumps(tiny_model.metadata["pipeline"])
    assert spec_of(stepped_model).horizons == stepped_model.config.horizons == (1, 3)
