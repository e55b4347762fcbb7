import numpy as np
import pytest
from signal_processing import Buffer, System


class Recorder:
    """A module that records its calls and returns a function of its inputs."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = []

    def execute(self, **inputs):
        self.calls.append(inputs)
        return self.fn(**inputs)


class SpreadSystem(System):
    """Routes the window to 'stats', then stats + the raw frame to 'signal'."""

    def connect(self, name):
        if name == "stats":
            return {"window": self.inputs["window"]}
        return {"stats": self.outputs["stats"], "price": self.inputs["frame"]}


def test_subclass_routes_through_two_modules():
    stats = Recorder(lambda window: (window.mean(), window.std()))
    signal = Recorder(lambda stats, price: (price - stats[0]) / (stats[1] or 1.0))
    system = SpreadSystem(Buffer(4, 2), {"stats": stats, "signal": signal})
    prices = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    results = [system.process_frame(p) for p in prices]

    # due on ticks 3 and 5 only (B=4, S=2)
    assert [r is not None for r in results] == [False] * 3 + [True, False, True, False]
    assert len(stats.calls) == len(signal.calls) == 2
    np.testing.assert_array_equal(stats.calls[1]["window"].ravel(), [12.0, 13.0, 14.0, 15.0])
    assert signal.calls[1]["stats"] == stats.fn(stats.calls[1]["window"])
    assert signal.calls[1]["price"] == 15.0
    window = np.array([12.0, 13.0, 14.0, 15.0])
    assert results[5] == pytest.approx((15.0 - window.mean()) / window.std())
    assert list(system.outputs) == ["stats", "signal"]
    assert system.outputs["signal"] == results[5]
    assert system.inputs["tick"] == 6 and "window" not in system.inputs


OPS = {
    "total": lambda data: float(data.sum()),
    "mean": lambda data: float(data.mean()),
    "last": lambda data: float(data[-1, 0]),
    "square": lambda data: data * data,
    "plus_one": lambda data: data + 1,
    "halve": lambda data: data / 2,
}


def test_default_connect_chains_modules(args, expected):
    modules = {name: Recorder(OPS[name]) for name in args["modules"]}
    system = System(Buffer(args["buffer_size"], args["step_size"]), modules)
    results = [system.process_frame(float(x)) for x in args["frames"]]
    assert [r for r in results if r is not None] == pytest.approx(expected)


def test_modules_accept_pairs_in_order():
    system = System(Buffer(2), [("b", Recorder(lambda data: 1)), ("a", Recorder(lambda data: 2))])
    assert list(system.modules) == ["b", "a"]


def test_bad_system_arguments():
    with pytest.raises(TypeError, match="buffer must be a Buffer"):
        System([1, 2, 3], {})
    with pytest.raises(TypeError, match="'m' \\(object\\) has no execute"):
        System(Buffer(2), {"m": object()})
    with pytest.raises(ValueError, match="name 'm' is given twice"):
        System(Buffer(2), [("m", Recorder(len)), ("m", Recorder(len))])
    with pytest.raises(ValueError, match="non-empty string"):
        System(Buffer(2), {"": Recorder(len)})


def test_bad_frame_names_argument():
    system = System(Buffer(2), {"m": Recorder(lambda data: data)})
    with pytest.raises(ValueError, match="sample has shape"):
        system.process_frame([1.0, 2.0])


def test_reset_starts_over():
    module = Recorder(lambda data: float(data.sum()))
    system = System(Buffer(2), {"m": module})
    for x in [1.0, 2.0, 3.0]:
        system.process_frame(x)
    system.reset()
    assert system.outputs == {} and system.inputs == {}
    assert system.process_frame(10.0) is None
    assert system.process_frame(20.0) == 30.0
