"""Numbers at the edges of ModelConfig and TrainConfig: one rule per field class.

Float fields: finite int or float, never bool (nan, inf, -inf and ints too big for a
float are refused). Integer fields: an int, never bool or a float such as 3.0, within a
documented cap. Seeds: [0, 2**63 - 1]. Every message is one short line.
"""

import math

import pytest
from model.config import MAX_LSTM_PARAMETERS, MAX_SEED, ModelConfig, TrainConfig

HUGE = 10**400  # too big for a float; 401 digits

FLOATS = [
    (TrainConfig, "lr"),
    (TrainConfig, "weight_decay"),
    (TrainConfig, "val_fraction"),
    (TrainConfig, "grad_clip"),
    (TrainConfig, "beta"),
    (ModelConfig, "dropout"),
]
INTS = [
    (ModelConfig, "input_dim", 65_536),
    (ModelConfig, "seq_len", 100_000),
    (ModelConfig, "hidden_dim", 8192),
    (ModelConfig, "num_layers", 64),
    (ModelConfig, "num_heads", 256),
    (TrainConfig, "epochs", 1_000_000),
    (TrainConfig, "batch_size", 10_000_000),
    (TrainConfig, "patience", 1_000_000),
    (TrainConfig, "num_threads", 1024),
]


def refused(cls, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message[:300]
    return message


@pytest.mark.parametrize(("cls", "name"), FLOATS, ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, True, False, HUGE, -HUGE, "0.1", [0.1], None],
    ids=["nan", "inf", "-inf", "true", "false", "huge", "-huge", "str", "list", "none"],
)
def test_float_fields_refuse_non_finite_and_non_numbers(cls, name, value):
    assert refused(cls, **{name: value}).startswith(f"{name} must be ")


@pytest.mark.parametrize(("cls", "name", "cap"), INTS, ids=lambda x: getattr(x, "__name__", x))
def test_integer_fields_have_one_rule_and_a_cap(cls, name, cap):
    small = cls is ModelConfig and name not in ("hidden_dim", "num_layers")
    extra = {"hidden_dim": 4, "num_layers": 1} if small else {}
    for bad in (True, 3.0, 0, -1, cap + 1, HUGE, "3"):
        message = refused(cls, **{**extra, name: bad})
        assert message.startswith(f"{name} must be "), message
    assert "at most" in refused(cls, **{**extra, name: cap + 1})
    if name not in ("hidden_dim", "num_layers", "num_heads"):  # those meet the weight cap
        assert getattr(cls(**{**extra, name: cap}), name) == cap


def test_float_three_point_zero_is_not_an_integer():
    assert "got 3.0" in refused(TrainConfig, epochs=3.0)


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**64 + 1, HUGE, True, 1.0, "1"])
def test_seed_outside_the_signed_64_bit_range_is_refused(seed):
    assert refused(TrainConfig, seed=seed).startswith("seed must be an integer in [0, 2**63 - 1]")


def test_seed_edges_are_accepted():
    assert TrainConfig(seed=0).seed == 0
    assert TrainConfig(seed=MAX_SEED).seed == MAX_SEED


@pytest.mark.parametrize(
    ("horizons", "fragment"),
    [
        (tuple(range(1, 66)), "at most 64 values"),
        ((1, 100_001), "at most 100000"),
        ((1, HUGE), "at most 100000, got an integer of 401 digits"),
        ((1, 2.0), "got 2.0 at position 1"),
        ((1, True), "got True at position 1"),
        ((5, 1), "got 1 after 5 at position 1"),
        ("1,5", "got '1,5'"),
        (list(range(10**6, 0, -1)), "at most 64 values"),
    ],
    ids=["65", "too_far", "huge", "float", "bool", "unordered", "str", "million"],
)
def test_horizons_edges(horizons, fragment):
    assert fragment in refused(ModelConfig, horizons=horizons)


def test_horizons_at_the_caps_are_accepted():
    assert ModelConfig(horizons=tuple(range(1, 65))).n_outputs == 64
    assert ModelConfig(horizons=(100_000,)).horizons == (100_000,)


def test_network_weights_are_capped():
    ok = ModelConfig(hidden_dim=512, num_layers=4)
    assert ok.n_weights < MAX_LSTM_PARAMETERS
    message = refused(ModelConfig, hidden_dim=8192, num_layers=64)
    assert "LSTM/attention weights, more than 50000000" in message


def test_n_weights_matches_torch():
    torch = pytest.importorskip("torch")
    c = ModelConfig(input_dim=6, hidden_dim=12, num_layers=3, bidirectional=True)
    lstm = torch.nn.LSTM(6, 12, num_layers=3, bidirectional=True)
    assert c.n_weights == sum(p.numel() for p in lstm.parameters())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bidirectional": "x" * 100_000},
        {"dropout": ["x"] * 100_000},
        {"lr": "y" * 100_000},
        {"epochs": list(range(100_000))},
    ],
    ids=["bool_str", "dropout_list", "lr_str", "epochs_list"],
)
def test_messages_show_a_bounded_value(kwargs):
    cls = TrainConfig if set(kwargs) & {"lr", "epochs"} else ModelConfig
    refused(cls, **kwargs)
