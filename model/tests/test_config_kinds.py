"""TreeConfig, Seq2SeqConfig and EnsembleConfig: validation, caps, strict from_dict, doctests."""

import dataclasses
import doctest
import importlib

import pytest

from model import EnsembleConfig, Seq2SeqConfig, TreeConfig


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_leaves": 1}, "num_leaves must be at least 2"),
        ({"num_leaves": 70_000}, "num_leaves must be at most 65536"),
        ({"num_leaves": 8.0}, "num_leaves must be a positive integer"),
        ({"n_estimators": True}, "n_estimators must be a positive integer"),
        ({"n_estimators": 100_001}, "at most 100000"),
        ({"n_estimators": 100_000, "num_leaves": 200}, r"n_estimators \* num_leaves"),
        ({"learning_rate": 0}, r"learning_rate must be in \(0, 1\]"),
        ({"feature_fraction": float("nan")}, "feature_fraction must be a finite number"),
        ({"bagging_fraction": 1.5}, "bagging_fraction must be in"),
        ({"min_child_samples": 0}, "min_child_samples must be a positive integer"),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds"),
        ({"seed": 2**31}, r"seed must be an integer in \[0, 2\*\*31 - 1\]"),
        ({"seed": -1}, "seed must be"),
        ({"max_bin": 1}, "max_bin must be at least 2"),
        ({"max_bin": 1024}, "max_bin must be at most 1023"),
        ({"max_bin": 63.0}, "max_bin must be a positive integer"),
    ],
)
def test_tree_config_refuses(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TreeConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"teacher_forcing_start": -0.1}, r"teacher_forcing_start must be in \[0, 1\]"),
        ({"teacher_forcing_end": True}, "teacher_forcing_end must be a finite number"),
        ({"attention": "multihead"}, "attention must be 'additive' or 'dot'"),
    ],
)
def test_seq2seq_config_refuses(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Seq2SeqConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weighting": "best"}, "weighting must be"),
        ({"weights": ()}, "weights must be a list of 1 to 64"),
        ({"weights": (1,) * 65}, "weights must be a list of 1 to 64"),
        ({"weights": (1, -1)}, "non-negative"),
        ({"weights": (0, 0)}, "positive sum"),
        ({"weights": (1, float("inf"))}, r"weights\[1\] must be a finite number"),
        ({"window": 0}, "window must be a positive integer"),
    ],
)
def test_ensemble_config_refuses(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EnsembleConfig(**kwargs)


@pytest.mark.parametrize("cls", [TreeConfig, Seq2SeqConfig, EnsembleConfig])
def test_round_trip_and_strict_from_dict(cls):
    config = cls()
    assert cls.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown .* field"):
        cls.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="needs a mapping"):
        cls.from_dict([1])
    for name in (
        f.name for f in dataclasses.fields(cls)
    ):  # every field has an `name: text` Args entry
        assert f"        {name}: " in cls.__doc__


def test_ensemble_weights_round_trip_and_normalize():
    c = EnsembleConfig(weights=[2, 2, 4])
    assert c.weights == (2.0, 2.0, 4.0) and c.normalized(3) == (0.25, 0.25, 0.5)
    assert EnsembleConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="3 values for 2 members"):
        c.normalized(2)


@pytest.mark.parametrize(
    "module", ["model.config", "model.trees", "model.ensemble", "model.seq2seq"]
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
