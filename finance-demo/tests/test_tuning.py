"""finance_demo.tune: the search space, the walk-forward objective, the tail, resuming."""

import dataclasses
import sys

import numpy as np
import pytest
from finance_demo import (
    PipelineError,
    SearchSpace,
    Settings,
    SettingsError,
    build_dataset,
    evaluate,
    load_settings,
    load_settings_file,
    load_space_file,
    train_model,
    tune,
)
from finance_demo.tuning import DEFAULT_SPACE

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "model.hidden_dim": {"int": [4, 12]},
    "features.window_size": {"int": [2, 30]},  # above buffer_size 20: a pruned trial
    "training.lr": {"float": [1e-3, 1e-2], "log": True},
}


@pytest.fixture(scope="module")
def base(tiny_settings):
    return load_settings(
        {"features": {"window_size": 4}, "model": {"hidden_dim": 8}}, tiny_settings
    )


@pytest.fixture(scope="module")
def walk(make_candles):
    return make_candles(n=500, seed=3)


@pytest.fixture(scope="module")
def result(walk, base):
    return tune(walk, base, SPACE, 6, folds=2, holdout=0.2, seed=1)


@pytest.mark.parametrize(
    ("space", "words"),
    [
        ({"model.hiden_dim": {"int": [8, 64]}}, "unknown setting (known in model: seq_len"),
        ({"modle.hidden_dim": {"int": [8, 64]}}, "unknown section 'modle'"),
        ({"hidden_dim": {"int": [8, 64]}}, "must be 'section.name'"),
        ({"data.symbol": {"choice": ["A", "B"]}}, "data section is not tunable"),
        ({"model.horizons": {"choice": [1, 5]}}, "not tunable"),
        ({"model.hidden_dim": {"int": [64, 8]}}, "low 64 is above high 8"),
        ({"model.hidden_dim": {"int": [0, 8]}}, "model.hidden_dim must be a positive integer"),
        ({"model.hidden_dim": {"float": [8.0, 64.0]}}, "is an integer; use int"),
        ({"training.lr": {"int": [1, 2]}}, "is a float; use float"),
        ({"training.lr": {"float": [0.0, 0.1], "log": True}}, "log scale needs low > 0"),
        ({"model.hidden_dim": {"int": [8, 64], "step": 8, "log": True}}, "cannot be combined"),
        ({"model.hidden_dim": {"int": [8, 64], "float": [1.0, 2.0]}}, "exactly one of"),
        ({"model.hidden_dim": {"range": [8, 64]}}, "unknown field 'range'"),
        ({"model.hidden_dim": [8, 64]}, "expected a mapping"),
        ({"model.hidden_dim": {"int": [8]}}, "must be [low, high]"),
        ({"features.normalize": {"choice": ["last", "median"]}}, "value 'median' refused"),
        ({"features.normalize": {"choice": []}}, "list of 1 to 64 values"),
        ({"model.attention": {"choice": [True, True]}}, "repeated value"),
        ({"features.normalize": {"int": [1, 2]}}, "use choice"),
        ({f"model.k{i}": {"int": [1, 2]} for i in range(40)}, "at most 32 keys"),
        ({}, "non-empty mapping"),
    ],
)
def test_a_bad_space_is_one_line_naming_the_problem(space, words):
    with pytest.raises(SettingsError) as info:
        SearchSpace.from_dict(space)
    message = str(info.value)
    assert words in message
    assert "\n" not in message and len(message) < 300


def test_the_default_space_is_valid_and_holds_the_default_settings():
    space = SearchSpace.from_dict(DEFAULT_SPACE)
    assert space.contains(Settings())
    assert not space.contains(load_settings({"model": {"hidden_dim": 128}}))
    assert not space.contains(load_settings({"model": {"seq_len": 12}}))  # off the step grid


def test_a_space_file_round_trips_and_its_errors_name_the_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "model.hidden_dim: {int: [8, 64], log: true}\n"
        "training.lr: {float: [1.0e-4, 1.0e-2], log: true}\n"
        "features.normalize: {choice: [last, none]}\n"
        "model.seq_len: {int: [5, 40], step: 5}\n"
    )
    space = load_space_file(path)
    assert [p.key for p in space.params] == [
        "model.hidden_dim",
        "training.lr",
        "features.normalize",
        "model.seq_len",
    ]
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert space.params[0].log and space.params[3].step == 5
    path.write_text("model.hidden_dim: {int: [8, 64]\n")
    with pytest.raises(SettingsError, match=r"space.yaml:2:1: "):
        load_space_file(path)
    path.write_text("model.nope: {int: [8, 64]}\n")
    with pytest.raises(SettingsError, match=r"space.yaml: search space key 'model.nope'"):
        load_space_file(path)


def test_tune_scores_trials_prunes_invalid_ones_and_starts_with_the_base(result, base):
    assert len(result.trials) == 6
    assert [t["number"] for t in result.trials] == list(range(6))
    # Trial 0 is the base settings, enqueued: its value is the base's walk-forward MAE.
    first = result.trials[0]
    assert first["params"] == {
        "model.hidden_dim": 8,
        "features.window_size": 4,
        "training.lr": 3e-3,
    }
    assert first["state"] == "complete" and result.base_value == first["value"]
    complete = [t for t in result.trials if t["state"] == "complete"]
    pruned = [t for t in result.trials if t["state"] == "pruned"]
    for t in pruned:
        assert t["params"]["features.window_size"] > 20
        assert "window_size must be <= buffer_size (20)" in t["reason"]
    for t in complete:
        assert t["params"]["features.window_size"] <= 20
        assert len(t["folds"]) == 2 and t["value"] == pytest.approx(np.mean(t["folds"]), rel=0.05)
    assert result.best_value == min(t["value"] for t in complete)
    best = next(t for t in result.trials if t["number"] == result.best_trial)
    assert result.best_params == best["params"]
    assert result.best_settings.model.hidden_dim == best["params"]["model.hidden_dim"]
    # Everything not searched is the base's.
    assert result.best_settings.buffer == base.buffer
    assert result.best_settings.training.epochs == base.training.epochs
    assert result.best_value <= result.base_value
    assert 0 < result.persistence_value < 0.05


def test_the_tail_scores_are_what_training_on_the_search_part_gives(result, walk, base):
    n_search = result.info["search_candles"]
    assert n_search == 400 and result.info["tail_candles"] == 100
    assert result.info["tail_start"] == str(walk.index[400])
    for name, settings in (("best", result.best_settings), ("default", base)):
        fold = dataclasses.replace(
            settings, evaluation=dataclasses.replace(settings.evaluation, test_fraction=0.0)
        )
        model = train_model(walk.iloc[:n_search], fold)
        data = build_dataset(walk, settings.pipeline).labeled()
        tail = data.subset(np.flatnonzero(data.ticks >= n_search))
        assert len(tail) == 99  # ticks 400..498: the last one has no target
        expected = evaluate(model, tail, settings.evaluation.level)
        assert result.tail[name]["h1"]["mae"] == pytest.approx(expected["h1"]["mae"])
        assert result.tail[name]["h1"]["coverage"] == pytest.approx(expected["h1"]["coverage"])
    log_close = np.log(walk["Close"].to_numpy())
    persistence = np.mean(np.abs(np.diff(log_close[400:])))
    assert result.tail["persistence"]["h1"]["mae"] == pytest.approx(persistence)
    assert result.tail["default"]["h1"]["mae_persistence"] == pytest.approx(persistence)


def test_the_search_never_sees_the_tail_and_reproduces(result, walk, base):
    changed = walk.copy()
    rng = np.random.default_rng(7)
    factor = np.exp(rng.normal(0, 0.05, 100))
    for col in ("Open", "High", "Low", "Close"):
        changed.iloc[400:, changed.columns.get_loc(col)] *= factor
    again = tune(changed, base, SPACE, 6, folds=2, holdout=0.2, seed=1)
    assert [(t["params"], t["value"]) for t in again.trials] == [
        (t["params"], t["value"]) for t in result.trials
    ]
    assert again.tail["best"]["h1"]["mae"] != pytest.approx(result.tail["best"]["h1"]["mae"])
    other = tune(walk, base, SPACE, 3, folds=2, holdout=0.2, seed=2)
    assert other.trials[0]["params"] == result.trials[0]["params"]  # the base, enqueued
    assert [t["params"] for t in other.trials[1:]] != [t["params"] for t in result.trials[1:3]]


def test_an_interrupted_study_resumes_to_the_total(tmp_path, walk, base):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    space = {"training.lr": {"float": [1e-3, 1e-2], "log": True}}
    seen = []

    def stop_after_two(k, total, info):
        seen.append((k, total, info["trial"]))
        if k == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tune(walk, base, space, 5, folds=1, holdout=0.2, storage=storage, study_name="s",
             progress=stop_after_two)  # fmt: skip
    assert seen == [(1, 5, 0), (2, 5, 1)]
    stored = optuna.load_study(study_name="s", storage=storage)
    assert len(stored.trials) == 2
    first_two = [t.params for t in stored.trials]
    seen.clear()
    resumed = tune(walk, base, space, 5, folds=1, holdout=0.2, storage=storage, study_name="s",
                   progress=lambda k, n, info: seen.append((k, n, info["trial"])))  # fmt: skip
    assert seen == [(3, 5, 2), (4, 5, 3), (5, 5, 4)]
    assert resumed.info["trials_run"] == 3 and len(resumed.trials) == 5
    assert [t["params"] for t in resumed.trials[:2]] == first_two
    lrs = [t["params"]["training.lr"] for t in resumed.trials]
    assert len(set(lrs)) == 5  # the resumed sampler does not replay the first draws
    # Already at the total: nothing runs, the tail is scored again.
    done = tune(walk, base, space, 5, folds=1, holdout=0.2, storage=storage, study_name="s")
    assert done.info["trials_run"] == 0 and done.best_value == resumed.best_value
    with pytest.raises(SettingsError, match=r"study 's' in sqlite:.* other arguments \(folds\)"):
        tune(walk, base, space, 6, folds=2, holdout=0.2, storage=storage, study_name="s")


def test_to_yaml_is_a_config_file_of_the_best_settings(result, tmp_path):
    text = result.to_yaml()
    assert text.startswith("# stock-analyzer settings found by 'stock-analyzer tune'")
    path = tmp_path / "best.yaml"
    path.write_text(text)
    assert load_settings_file(path) == result.best_settings
    body = result.to_dict()
    assert body["best_params"] == result.best_params
    assert set(body["tail"]) == {"best", "default", "persistence"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"trials": 0}, "trials must be an integer in [1, 10000], got 0"),
        ({"folds": 0}, "folds must be an integer in [1, 20]"),
        ({"holdout": 0.7}, "holdout must be in (0, 0.5]"),
        ({"holdout": 0}, "holdout must be in (0, 0.5]"),
        ({"n_jobs": 0}, "n_jobs must be"),
        ({"folds": 20, "holdout": 0.5, "start": 0.9, "candles": 60}, "too few to tune"),
    ],
)
def test_bad_arguments_are_one_line(kwargs, words, walk, base):
    kwargs = {"trials": 2, **kwargs}
    candles = walk.iloc[: kwargs.pop("candles", len(walk))]
    with pytest.raises(PipelineError) as info:
        tune(candles, base, SPACE, **kwargs)
    assert words in str(info.value)


def test_a_space_with_no_valid_combination_says_so(walk, base):
    with pytest.raises(SettingsError, match=r"all 2 trials were pruned.*window_size must be <="):
        tune(walk, base, {"features.window_size": {"int": [25, 30]}}, 2, folds=1)


def test_two_jobs_run_the_trials_in_threads(walk, base):
    result = tune(walk, base, {"training.lr": {"float": [1e-3, 1e-2]}}, 3, folds=1, n_jobs=2)
    assert len(result.trials) == 3
    assert all(t["state"] == "complete" for t in result.trials)


def test_without_optuna_the_error_names_the_extra(monkeypatch, walk, base):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(PipelineError, match=r"pip install 'finance-demo\[tune\]'"):
        tune(walk, base, SPACE, 2)
