"""Hyperparameter search with Optuna, scored by walk-forward validation (``[tune]`` extra).

The objective is the **mean out-of-sample MAE of the log-return forecast** (every horizon
and every out-of-sample sample pooled), the headline point score of :func:`evaluate` and
of the backtest, so a trial's value reads like the MAE the other commands print and
stands beside persistence's. (A Gaussian NLL would let the interval's calibration decide;
the intervals are calibrated conformally afterwards anyway.)

How the candles are used, in time order::

    |<------------------------ search part ------------------------>|<-- tail -->|
    |<-- first training part (start) -->|  fold 1 | fold 2 | fold 3 |  holdout   |

- The last ``holdout`` share of the candles is the **tail**: no trial ever sees it.
- On the search part, each trial runs a small expanding-window walk-forward: for each
  fold the model is trained (:func:`train_model`, from scratch, same seed) on the candles
  before the fold's first tick and forecasts the samples whose last candle lies in the
  fold. The folds are fixed **tick** ranges, the same for every trial, so trials with
  other window sizes are scored on the same targets (with ``step_size`` 1; a larger step
  scores every ``step_size``-th of them). Targets never reach past the search part.
- A combination the settings refuse (``window_size > buffer_size``, ``num_heads`` not
  dividing the width...) or that leaves too few samples is a **pruned** trial with its
  reason, never a crash.
- The best settings are then scored **once** on the tail, trained on everything before
  it, beside the base (default or ``--config``) settings and persistence.

The sampler is TPE with a seed (the base settings are enqueued as the first trial when
they lie in the space; a third of the trials, 3 to 10, are drawn at random before TPE
models the results), so a run with ``n_jobs=1`` reproduces. With ``storage`` (an Optuna
RDB URL such as ``sqlite:///tune.db``) and ``study_name`` the study is resumable:
``trials`` is the total the study should reach, and a rerun adds the missing ones (the
sampler is then seeded by the seed and the number of trials already stored, so it does
not repeat them). A stored study made with another space, folds, holdout, candles or base
settings is refused.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from finance_demo.config import SECTIONS, Settings, excerpt, load_settings, settings_schema
from finance_demo.errors import InsufficientDataError, PipelineError, SettingsError

__all__ = [
    "DEFAULT_SPACE",
    "MAX_SPACE_PARAMS",
    "MAX_TRIALS",
    "Param",
    "SearchSpace",
    "TuneResult",
    "load_space_file",
    "tune",
]

#: Most parameters a search space may have.
MAX_SPACE_PARAMS = 32
#: Most values of one ``choice``.
MAX_CHOICES = 64
#: Most trials of one study.
MAX_TRIALS = 10_000
#: Most walk-forward folds per trial.
MAX_FOLDS = 20

#: Settings that cannot be tuned: where the data comes from, how a run is scored, what is
#: forecast (another horizon is another objective), and what does not change the model.
_UNTUNABLE_SECTIONS = {"data": "where the candles come from", "evaluation": "how runs are scored"}
_UNTUNABLE_KEYS = {
    "model.horizons": "another horizon is another objective",
    "training.seed": "tuning the seed fits noise",
    "training.num_threads": "it changes speed, not the model",
    "training.val_fraction": "it changes the data each trial is scored on",
}

#: The space searched when none is given (``stock-analyzer/examples/search.yaml``): the
#: network's size, the windows and the optimizer; every default setting lies in it.
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "buffer.buffer_size": {"int": [40, 100], "step": 10},  # the default groups need 35
    "features.window_size": {"int": [3, 20]},
    "model.seq_len": {"int": [5, 40], "step": 5},
    "model.hidden_dim": {"int": [8, 64], "log": True},
    "model.num_layers": {"int": [1, 2]},
    "model.dropout": {"float": [0.0, 0.3]},
    "training.lr": {"float": [1.0e-4, 1.0e-2], "log": True},
    "training.weight_decay": {"float": [1.0e-6, 1.0e-3], "log": True},
}

_INSTALL = "pip install 'finance-demo[tune]'"


def _optuna() -> Any:
    """Import Optuna, or say in one line how to install it."""
    try:
        import optuna
    except ImportError:
        raise PipelineError(f"tuning needs Optuna: {_INSTALL}") from None
    return optuna


# --- the search space ---------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One searched setting.

    Args:
        key: ``section.name`` of the setting (see :func:`~finance_demo.settings_schema`).
        kind: ``int``, ``float`` or ``choice``.
        low: Lower bound (``int`` and ``float``), inclusive.
        high: Upper bound, inclusive.
        log: Sample on a log scale (bounds must be positive).
        step: Grid step (``int``: a positive integer; ``float``: a positive number).
        choices: The values of a ``choice``.
    """

    key: str
    kind: str
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple[Any, ...] = ()

    @property
    def section(self) -> str:
        """The settings section (``model``...)."""
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        """The field name in the section."""
        return self.key.partition(".")[2]

    def suggest(self, trial: Any) -> Any:
        """Draw this parameter's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.key, self.low, self.high, step=self.step or 1, log=self.log
            )
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this parameter can draw."""
        if self.kind == "choice":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.kind == "int" and self.step:
            return (value - self.low) % self.step == 0
        return self.step is None or math.isclose(
            round((value - self.low) / self.step) * self.step + self.low, value
        )

    def to_dict(self) -> dict[str, Any]:
        """The YAML form of this parameter (``{"int": [8, 64], "log": true}``)."""
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        out: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


def _number(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int) and value.bit_length() <= 63
    return isinstance(value, (int, float)) and math.isfinite(value) and abs(value) < 1e300


def _check_value(key: str, value: Any) -> None:
    """Refuse a value that the setting's own config class refuses (alone, with defaults).

    The cross-section rules (``window_size <= buffer_size``...) are the trials' to meet:
    a combination that breaks one is a pruned trial.
    """
    section, _, name = key.partition(".")
    try:
        SECTIONS[section](**{name: value})
    except (ValueError, TypeError) as exc:
        raise SettingsError(
            f"search space {key}: value {excerpt(value, 40)} refused ({section}.{exc})"
        ) from None


def _parse_param(key: Any, body: Any, fields: dict[str, Any]) -> Param:
    if not isinstance(key, str) or not key.isprintable() or len(key) > 80:
        raise SettingsError(f"search space key {excerpt(key, 40)} must be 'section.name'")
    section, dot, name = key.partition(".")
    if not dot or not section or not name:
        raise SettingsError(
            f"search space key {key!r} must be 'section.name' (e.g. model.hidden_dim)"
        )
    if section not in SECTIONS:
        raise SettingsError(
            f"search space key {key!r}: unknown section {section!r} (known: {', '.join(SECTIONS)})"
        )
    if section in _UNTUNABLE_SECTIONS:
        raise SettingsError(
            f"search space key {key!r}: the {section} section is not tunable "
            f"({_UNTUNABLE_SECTIONS[section]})"
        )
    f = fields.get(key)
    if f is None:
        known = ", ".join(k.partition(".")[2] for k in fields if k.startswith(section + "."))
        raise SettingsError(
            f"search space key {key!r}: unknown setting (known in {section}: {known})"
        )
    if key in _UNTUNABLE_KEYS:
        raise SettingsError(f"search space key {key!r} is not tunable ({_UNTUNABLE_KEYS[key]})")
    if not isinstance(body, dict):
        raise SettingsError(
            f"search space {key}: expected a mapping like {{int: [8, 64]}}, {{float: [0.0001, "
            f"0.01], log: true}} or {{choice: [a, b]}}, got {excerpt(body, 40)}"
        )
    kinds = [k for k in ("int", "float", "choice") if k in body]
    extra = [k for k in body if k not in ("int", "float", "choice", "log", "step")]
    if extra:
        raise SettingsError(
            f"search space {key}: unknown field {excerpt(extra[0], 40)} "
            "(known: int, float, choice, log, step)"
        )
    if len(kinds) != 1:
        raise SettingsError(f"search space {key}: give exactly one of int, float, choice")
    kind = kinds[0]
    if kind == "choice":
        if "log" in body or "step" in body:
            raise SettingsError(f"search space {key}: log and step apply to int and float only")
        values = body["choice"]
        if not isinstance(values, list) or not values or len(values) > MAX_CHOICES:
            raise SettingsError(
                f"search space {key}: choice must be a list of 1 to {MAX_CHOICES} values"
            )
        for v in values:
            if not (v is None or isinstance(v, (bool, int, float, str))) or (
                isinstance(v, str) and len(v) > 80
            ):
                raise SettingsError(
                    f"search space {key}: choice values must be short scalars, got {excerpt(v, 40)}"
                )
            _check_value(key, v)
        if len({(type(v), v) for v in values}) != len(values):
            raise SettingsError(f"search space {key}: choice has a repeated value")
        return Param(key, "choice", choices=tuple(values))
    ftype = f.type if not f.multiple and not f.choices else None
    if ftype is not int and ftype is not float:
        raise SettingsError(
            f"search space {key}: {kind} ranges need a numeric setting; use choice for this one"
        )
    if kind == "int" and ftype is not int:
        raise SettingsError(f"search space {key}: the setting is a float; use float: [low, high]")
    if kind == "float" and ftype is not float:
        raise SettingsError(f"search space {key}: the setting is an integer; use int: [low, high]")
    bounds = body[kind]
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(_number(b, kind) for b in bounds)
    ):
        raise SettingsError(
            f"search space {key}: {kind} must be [low, high] of {kind}s, got {excerpt(bounds, 40)}"
        )
    low, high = bounds
    if low > high:
        raise SettingsError(f"search space {key}: low {low} is above high {high}")
    log = body.get("log", False)
    if not isinstance(log, bool):
        raise SettingsError(f"search space {key}: log must be true or false")
    if log and low <= 0:
        raise SettingsError(f"search space {key}: a log scale needs low > 0, got {low}")
    step = body.get("step")
    if step is not None:
        if not _number(step, kind) or step <= 0:
            raise SettingsError(f"search space {key}: step must be a positive {kind}")
        if log:
            raise SettingsError(f"search space {key}: step and log cannot be combined")
    if kind == "float":
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    for v in (low, high):
        _check_value(key, v)
    return Param(key, kind, low=low, high=high, log=log, step=step)


@dataclass(frozen=True)
class SearchSpace:
    """The settings searched, each with its range or choices.

    Built from a mapping of ``section.name`` keys (the YAML of ``examples/search.yaml``)::

        model.hidden_dim:   {int: [8, 64], log: true}
        training.lr:        {float: [1.0e-4, 1.0e-2], log: true}
        features.normalize: {choice: [last, none]}
        model.seq_len:      {int: [5, 40], step: 5}

    Keys must be settings of :func:`~finance_demo.settings_schema` in the buffer, features,
    model or training sections (not ``model.horizons``, ``training.seed``,
    ``training.num_threads``, ``training.val_fraction``); each bound or choice must be a
    value the setting accepts on its own. At most ``MAX_SPACE_PARAMS`` keys and
    ``MAX_CHOICES`` values per choice.

    Args:
        params: The parameters, in file order.
    """

    params: tuple[Param, ...]

    @classmethod
    def from_dict(cls, raw: Any) -> SearchSpace:
        """Validate a mapping of ``section.name`` to a range or choices.

        Raises:
            SettingsError: One line naming the bad key or value.
        """
        if not isinstance(raw, dict) or not raw:
            raise SettingsError(
                "a search space must be a non-empty mapping of section.name keys, got "
                f"{excerpt(raw, 40)}"
            )
        if len(raw) > MAX_SPACE_PARAMS:
            raise SettingsError(
                f"a search space has at most {MAX_SPACE_PARAMS} keys, got {len(raw)}"
            )
        fields = {f"{f.section}.{f.name}": f for f in settings_schema()}
        return cls(tuple(_parse_param(k, v, fields) for k, v in raw.items()))

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout (``SearchSpace.from_dict`` rebuilds it)."""
        return {p.key: p.to_dict() for p in self.params}

    def contains(self, settings: Settings) -> bool:
        """Whether every searched value of ``settings`` is one the space can draw."""
        return all(p.contains(_value_of(settings, p.key)) for p in self.params)

    def values_of(self, settings: Settings) -> dict[str, Any]:
        """The searched values of ``settings``, by ``section.name``."""
        return {p.key: _value_of(settings, p.key) for p in self.params}


def _value_of(settings: Settings, key: str) -> Any:
    section, _, name = key.partition(".")
    return getattr(getattr(settings, section), name)


def load_space_file(path: str | Path) -> SearchSpace:
    """Read a YAML search space (bounded like a settings file).

    Raises:
        SettingsError: The file cannot be read, is not YAML, or has a bad key or value
            (one line, starting with the file name).
    """
    import yaml

    from finance_demo.config import _bounded_loader, _read_bounded

    path = Path(path)
    text = _read_bounded(path)
    try:
        raw = yaml.load(text, Loader=_bounded_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())[:160]
        raise SettingsError(f"{path}{pos}: {problem}") from None
    try:
        return SearchSpace.from_dict(raw)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def _apply(space: SearchSpace, values: Mapping[str, Any], base: Settings) -> Settings:
    raw: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, _, name = key.partition(".")
        raw.setdefault(section, {})[name] = value
    return load_settings(raw, base)


# --- the walk-forward objective -------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    n: int  # candles
    n_search: int  # candles of the search part: [0, n_search); the tail is [n_search, n)
    cuts: tuple[tuple[int, int], ...]  # tick ranges [a, b) of the folds


def _plan(n: int, horizon: int, folds: int, holdout: float, start: float) -> _Plan:
    n_tail = round(n * holdout)
    n_search = n - n_tail
    first = round(n_search * start)
    last = n_search - horizon  # ticks whose every target lies in the search part
    if n_tail <= horizon or last - first < folds:
        raise InsufficientDataError(
            f"{n} candles are too few to tune with {folds} folds and a {holdout:g} tail; "
            "use a longer period, fewer folds or a larger holdout"
        )
    edges = [first + round(i * (last - first) / folds) for i in range(folds + 1)]
    return _Plan(n, n_search, tuple(itertools.pairwise(edges)))


def _fold_settings(settings: Settings) -> Settings:
    from finance_demo.config import many_runs

    evaluation = dataclasses.replace(settings.evaluation, test_fraction=0.0)
    return many_runs(dataclasses.replace(settings, evaluation=evaluation))


def _persistence_mae(closes: np.ndarray, horizons: tuple[int, ...], a: int, b: int) -> float:
    """MAE of a zero-return forecast over the ticks ``[a, b)`` (every horizon pooled)."""
    log_close = np.log(closes)
    ticks = np.arange(a, b)
    errs = [np.abs(log_close[ticks + h] - log_close[ticks]) for h in horizons]
    return float(np.mean(np.concatenate(errs)))


def _walk_forward(
    candles: Any, settings: Settings, plan: _Plan, report: Callable[[int, float], None]
) -> tuple[float, list[float]]:
    """Mean out-of-sample MAE of ``settings`` over the folds of the search part."""
    from finance_demo.dataset import build_dataset
    from finance_demo.training import train_model

    search = candles.iloc[: plan.n_search]
    data = build_dataset(search, settings.pipeline).labeled()
    fold_settings = _fold_settings(settings)
    errors: list[np.ndarray] = []
    per_fold: list[float] = []
    for k, (a, b) in enumerate(plan.cuts):
        index = np.flatnonzero((data.ticks >= a) & (data.ticks < b))
        if index.size == 0:
            raise InsufficientDataError(f"fold {k + 1} has no sample for these window sizes")
        model = train_model(search.iloc[:a], fold_settings)
        test = data.subset(index)
        err = np.abs(test.y - np.asarray(model.forecast(test.X).mean, dtype=np.float64))
        errors.append(err.reshape(-1))
        per_fold.append(float(err.mean()))
        report(k, float(np.mean(np.concatenate(errors))))
    return float(np.mean(np.concatenate(errors))), per_fold


def _tail_score(candles: Any, settings: Settings, plan: _Plan) -> dict[str, dict[str, float]]:
    """Train on the search part, score on the tail (``evaluate``'s scores, per horizon)."""
    from finance_demo.dataset import build_dataset
    from finance_demo.training import evaluate, train_model

    model = train_model(candles.iloc[: plan.n_search], _fold_settings(settings))
    data = build_dataset(candles, settings.pipeline).labeled()
    tail = data.subset(np.flatnonzero(data.ticks >= plan.n_search))
    if len(tail) == 0:
        raise InsufficientDataError("the tail has no labeled sample; use a larger holdout")
    return evaluate(model, tail, settings.evaluation.level)


# --- the result -----------------------------------------------------------------------------


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found.

    Attributes:
        best_settings: The best trial's settings (the base settings with its values).
        best_value: Its walk-forward MAE (log return, every horizon pooled).
        best_trial: Its trial number.
        base_settings: The settings the search started from (``default`` in the tail table).
        base_value: Their walk-forward MAE when the base was trial 0, else ``None``.
        persistence_value: Persistence's MAE over the same walk-forward targets.
        trials: One dict per finished trial: ``number``, ``state`` (complete, pruned,
            fail), ``value``, ``params``, ``folds`` (MAE per fold), ``seconds``, ``reason``.
        tail: Tail scores: ``{"best": {"h1": {...}}, "default": {...}}`` with
            :func:`~finance_demo.evaluate`'s fields (``mae``, ``mae_persistence``,
            ``coverage``, ``direction_accuracy``...); ``"persistence": {"h1": {"mae"}}``.
        space: The search space (its YAML layout).
        info: The run: ``objective``, ``folds``, ``holdout``, ``candles``,
            ``search_candles``, ``tail_candles``, ``tail_start``, ``fold_starts``,
            ``study_name``, ``storage``, ``trials_run`` (this call), ``seconds``.
    """

    best_settings: Settings
    best_value: float
    best_trial: int
    base_settings: Settings
    base_value: float | None
    persistence_value: float
    trials: list[dict[str, Any]]
    tail: dict[str, dict[str, dict[str, float]]]
    space: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's searched values, by ``section.name``."""
        return SearchSpace.from_dict(self.space).values_of(self.best_settings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (NaN and infinities as ``None``)."""
        return _clean(
            {
                "best_value": self.best_value,
                "best_trial": self.best_trial,
                "best_params": self.best_params,
                "base_value": self.base_value,
                "persistence_value": self.persistence_value,
                "best_settings": self.best_settings.to_dict(),
                "tail": self.tail,
                "trials": self.trials,
                "space": self.space,
                **self.info,
            }
        )

    def to_yaml(self) -> str:
        """The best settings as a ``--config`` file (the ``examples/settings.yaml`` layout).

        Every key is written (the whole settings), with a comment header saying where the
        values come from and how they scored.
        """
        import yaml

        tail_best = _pooled_mae(self.tail.get("best", {}))
        tail_base = _pooled_mae(self.tail.get("default", {}))
        tail_persist = _pooled_mae(self.tail.get("persistence", {}))
        head = [
            "# stock-analyzer settings found by 'stock-analyzer tune' (finance_demo.tune):",
            f"# trial {self.best_trial} of {len(self.trials)}, walk-forward MAE "
            f"{self.best_value:.6f} over {self.info.get('folds')} folds "
            f"(persistence {self.persistence_value:.6f});",
            f"# held-out tail from {self.info.get('tail_start', '?')[:10]}: MAE "
            f"{tail_best:.6f} (default {tail_base:.6f}, persistence {tail_persist:.6f})",
            "# searched: " + ", ".join(self.space),
            "#   stock-analyzer train --config THIS_FILE -o model.safetensors",
        ]
        body = yaml.safe_dump(self.best_settings.to_dict(), sort_keys=False)
        return "\n".join(head) + "\n" + body


def _pooled_mae(per_horizon: dict[str, dict[str, float]]) -> float:
    values = [v["mae"] for v in per_horizon.values() if v.get("mae") is not None]
    return float(np.mean(values)) if values else float("nan")


# --- tune -----------------------------------------------------------------------------------


def _check_args(trials: Any, folds: Any, holdout: Any, n_jobs: Any, start: Any) -> None:
    for name, value, cap in (("trials", trials, MAX_TRIALS), ("folds", folds, MAX_FOLDS)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap:
            raise SettingsError(f"{name} must be an integer in [1, {cap}], got {excerpt(value)}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not 1 <= n_jobs <= 64:
        raise SettingsError(f"n_jobs must be an integer in [1, 64], got {excerpt(n_jobs)}")
    for name, value, hi in (("holdout", holdout, 0.5), ("start", start, 0.9)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= hi:
            raise SettingsError(f"{name} must be in (0, {hi}], got {excerpt(value)}")


def _trial_row(t: Any) -> dict[str, Any]:
    seconds = None
    if t.datetime_start is not None and t.datetime_complete is not None:
        seconds = round((t.datetime_complete - t.datetime_start).total_seconds(), 3)
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "value": t.value,
        "params": dict(t.params),
        "folds": t.user_attrs.get("folds"),
        "seconds": seconds,
        "reason": t.user_attrs.get("reason"),
    }


def tune(
    candles: Any,
    base_settings: Settings | None,
    space: SearchSpace | Mapping[str, Any] | None,
    trials: int,
    *,
    folds: int = 3,
    holdout: float = 0.15,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    n_jobs: int = 1,
    start: float = 0.5,
) -> TuneResult:
    """Search settings by walk-forward MAE, then score the best once on a held-out tail.

    See the module docstring for the protocol.

    Args:
        candles: Candles DataFrame, oldest first.
        base_settings: Settings the searched values replace (defaults when ``None``).
        space: A :class:`SearchSpace` or its mapping (``{"model.hidden_dim": {"int": [8,
            64]}}``); ``None``: :data:`DEFAULT_SPACE`.
        trials: Total finished (complete or pruned) trials the study should have, 1 to
            ``MAX_TRIALS``; a resumed study runs only the missing ones.
        folds: Walk-forward folds per trial, 1 to ``MAX_FOLDS``.
        holdout: Share of the candles at the end kept out of the search (the tail), in
            (0, 0.5].
        seed: Seed of the TPE sampler (the training seed is ``training.seed``).
        storage: Optuna RDB URL (``sqlite:///tune.db``) to keep the study in (resumable);
            ``None``: in memory.
        study_name: The study's name in ``storage`` (default ``tune``).
        progress: Called after each trial with ``(finished, trials, info)``; ``info`` has
            ``trial``, ``state``, ``value``, ``best``, ``params``, ``seconds``, ``reason``.
        n_jobs: Trials run at once in threads (results then depend on timing).
        start: Share of the search part before the first fold, in (0, 0.9].

    Returns:
        The :class:`TuneResult`.

    Raises:
        PipelineError: Optuna is not installed (the message names the extra).
        SettingsError: A bad space, argument, or a stored study made with another space,
            data or protocol; every trial pruned.
        InsufficientDataError: Too few candles for the folds and the tail.
        KeyboardInterrupt: Ctrl-C; the finished trials stay in ``storage``.
    """
    t0 = time.perf_counter()
    base = base_settings or Settings()
    if space is None:
        space = SearchSpace.from_dict(DEFAULT_SPACE)
    elif not isinstance(space, SearchSpace):
        space = SearchSpace.from_dict(dict(space) if isinstance(space, Mapping) else space)
    _check_args(trials, folds, holdout, n_jobs, start)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SettingsError(f"seed must be an integer in [0, 2**32), got {excerpt(seed)}")
    from finance_demo.dataset import closes_of

    closes = closes_of(candles)
    horizons = tuple(base.model.horizons)
    plan = _plan(len(closes), max(horizons), folds, holdout, start)
    optuna = _optuna()

    name = study_name or "tune"
    protocol = {
        "space": space.to_dict(),
        "folds": folds,
        "holdout": holdout,
        "start": start,
        "candles": len(closes),
        "first": str(candles.index[0]),
        "last": str(candles.index[-1]),
        "base": base.to_dict(),
    }
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="minimize",
        load_if_exists=True,
    )
    stored = study.user_attrs.get("protocol")
    if stored is None:
        study.set_user_attr("protocol", _clean(protocol))
    elif stored != _clean(protocol):
        words = {"base": "base settings", "first": "candles", "last": "candles"}
        differ = sorted({words.get(k, k) for k in protocol if stored.get(k) != _clean(protocol)[k]})
        raise SettingsError(
            f"study {name!r} in {storage} was made with other arguments ({', '.join(differ)}); "
            "give another study name or the same arguments"
        )
    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    finished = len(study.get_trials(deepcopy=False, states=done_states))
    seed_seq = np.random.SeedSequence([seed, finished])
    # TPE samples at random for its first trials: a third of a short run, at most 10.
    study.sampler = optuna.samplers.TPESampler(
        seed=int(seed_seq.generate_state(1)[0]), n_startup_trials=max(3, min(10, trials // 3))
    )
    waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    if finished == 0 and not waiting and space.contains(base):
        study.enqueue_trial(space.values_of(base), user_attrs={"base": True})

    def objective(trial: Any) -> float:
        values = {p.key: p.suggest(trial) for p in space.params}
        try:
            settings = _apply(space, values, base)
        except SettingsError as exc:
            trial.set_user_attr("reason", str(exc))
            raise optuna.TrialPruned(str(exc)) from None

        def report(k: int, value: float) -> None:
            trial.report(value, k)

        try:
            value, per_fold = _walk_forward(candles, settings, plan, report)
        except InsufficientDataError as exc:
            trial.set_user_attr("reason", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        if not math.isfinite(value):
            reason = "the walk-forward MAE is not finite (the training diverged)"
            trial.set_user_attr("reason", reason)
            raise optuna.TrialPruned(reason)
        trial.set_user_attr("folds", per_fold)
        return value

    def callback(study: Any, frozen: Any) -> None:
        if progress is None:
            return
        n_done = len(study.get_trials(deepcopy=False, states=done_states))
        try:
            best = study.best_value
        except ValueError:  # no complete trial yet
            best = None
        row = _trial_row(frozen)
        progress(min(n_done, trials), trials, {"trial": frozen.number, "best": best, **row})

    to_run = max(0, trials - finished)
    if to_run:
        study.optimize(
            objective,
            n_trials=to_run,
            n_jobs=n_jobs,
            callbacks=[callback],
            gc_after_trial=False,
        )
    rows = [_trial_row(t) for t in study.trials if t.state in done_states]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        reasons = [r["reason"] for r in rows if r["reason"]]
        first = f" (first: {reasons[0]})" if reasons else ""
        raise SettingsError(
            f"all {len(rows)} trials were pruned: no combination of the space is valid for "
            f"these candles{first}; narrow the search space"
        )
    best_trial = min(complete, key=lambda t: (t.value, t.number))
    best = _apply(space, best_trial.params, base)
    base_trial = next(
        (t for t in complete if t.user_attrs.get("base") and _apply(space, t.params, base) == base),
        None,
    )
    tail_best = _tail_score(candles, best, plan)
    tail_base = tail_best if best == base else _tail_score(candles, base, plan)
    tail_persist = {
        f"h{h}": {
            "mae": _persistence_mae(closes, (h,), plan.n_search, plan.n - max(horizons)),
            "samples": plan.n - max(horizons) - plan.n_search,
        }
        for h in horizons
    }
    persistence = _persistence_mae(closes, horizons, plan.cuts[0][0], plan.cuts[-1][1])
    info = {
        "objective": "mean out-of-sample MAE of the log-return forecast (horizons pooled)",
        "folds": folds,
        "holdout": holdout,
        "seed": seed,
        "candles": plan.n,
        "search_candles": plan.n_search,
        "tail_candles": plan.n - plan.n_search,
        "tail_start": str(candles.index[plan.n_search]),
        "fold_starts": [str(candles.index[a]) for a, _ in plan.cuts],
        "study_name": name,
        "storage": storage,
        "trials_run": to_run,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return TuneResult(
        best_settings=best,
        best_value=float(best_trial.value),
        best_trial=best_trial.number,
        base_settings=base,
        base_value=None if base_trial is None else float(base_trial.value),
        persistence_value=persistence,
        trials=rows,
        tail={"best": tail_best, "default": tail_base, "persistence": tail_persist},
        space=space.to_dict(),
        info=info,
    )
