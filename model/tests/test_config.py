import pytest

from model import ModelConfig


def test_invalid_config(args, expected):
    with pytest.raises(ValueError, match=expected):
        ModelConfig(**args)


def test_valid_config(args, expected):
    config = ModelConfig(**args)
    assert config.n_outputs == expected["n_outputs"]
    assert config.feature_dim == expected["feature_dim"]
    assert config.horizons == tuple(expected["horizons"])


def test_dict_round_trip():
    config = ModelConfig(hidden_dim=8, horizons=(1, 5), attention=True, num_heads=2)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match="unknown ModelConfig field\\(s\\): colour"):
        ModelConfig.from_dict({"colour": 1})


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        ModelConfig().hidden_dim = 3


def test_train_config_defaults_and_round_trip():
    from model.config import TrainConfig

    t = TrainConfig()
    assert (t.epochs, t.patience, t.num_threads, t.batch_size) == (20, 5, 1, 256)
    assert TrainConfig.from_dict(t.to_dict()) == t
    with pytest.raises(ValueError, match="unknown TrainConfig field\\(s\\): epoch "):
        TrainConfig.from_dict({"epoch": 3})


@pytest.mark.parametrize("name", ["lr", "weight_decay", "val_fraction", "grad_clip", "beta"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_train_config_refuses_non_finite(name, value):
    from model.config import TrainConfig

    with pytest.raises(ValueError, match=f"^{name} must be"):
        TrainConfig(**{name: value})


def test_config_module_imports_no_torch():
    import subprocess
    import sys

    import model.config

    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('cfg', {model.config.__file__!r})\n"
        "mod = sys.modules['cfg'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "mod.TrainConfig(); mod.ModelConfig(seq_len=3)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
