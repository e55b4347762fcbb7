import dataclasses

import pytest
from finance_demo import (
    PipelineSpec,
    Settings,
    SettingsError,
    load_settings,
    load_settings_file,
)


def test_bad_settings(args, expected):
    with pytest.raises(SettingsError) as info:
        load_settings(args["raw"])
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_good_settings(args, expected):
    s = load_settings(args["raw"])
    p = s.pipeline
    got = {
        "buffer_size": p.buffer_size,
        "step_size": p.step_size,
        "seq_len": p.seq_len,
        "window_size": p.window_size,
        "horizons": list(p.horizons),
        "epochs": s.training.epochs,
    }
    assert got == expected


def test_settings_round_trip_through_file_layout():
    s = load_settings({"buffer": {"buffer_size": 36}, "model": {"horizons": [1, 2]}})
    assert load_settings(s.to_dict()) == s


def test_base_settings_are_kept():
    base = load_settings({"training": {"epochs": 7}})
    s = load_settings({"buffer": {"step_size": 2}}, base=base)
    assert (s.training.epochs, s.pipeline.step_size) == (7, 2)


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().training.epochs = 3


def test_pipeline_sizes():
    p = PipelineSpec.build(buffer_size=10, step_size=3, seq_len=4, horizons=(1, 5))
    assert p.span == 10 + 3 * 3
    assert p.min_history == p.span + 5


def test_settings_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("buffer:\n  buffer_size: 40\ntraining:\n  epochs: 3\n")
    s = load_settings_file(path)
    assert (s.pipeline.buffer_size, s.training.epochs) == (40, 3)


def test_settings_file_typo_names_file_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("model:\n  hiden_dim: 8\n")
    with pytest.raises(SettingsError, match=r"s\.yaml: unknown key model\.hiden_dim"):
        load_settings_file(path)


def test_settings_file_bad_yaml_gives_position(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("buffer:\n  buffer_size: [1,\n")
    with pytest.raises(SettingsError, match=r"s\.yaml:\d+:\d+: "):
        load_settings_file(path)


def test_settings_file_missing(tmp_path):
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings_file(tmp_path / "nope.yaml")
