"""Settings of the pipeline: frozen dataclasses and a loader that names every mistake.

A settings file (YAML) has up to five sections; every key is optional::

    data:     {symbol: ^GSPC, period: max, interval: 1d, source: sample}
    buffer:   {buffer_size: 50, step_size: 1}
    features: {window_size: 5, normalize: last}
    model:    {seq_len: 20, horizons: [1], hidden_dim: 32, num_layers: 2, dropout: 0.0,
               bidirectional: false, attention: false, num_heads: 4}
    training: {epochs: 20, batch_size: 256, lr: 0.003, weight_decay: 1.0e-5, patience: 5,
               seed: 0, val_fraction: 0.15, test_fraction: 0.15, level: 0.9,
               num_threads: 1}

``seq_len`` and ``horizons`` live in the ``model`` section of the file (they shape the
network's input and output) but in :class:`PipelineConfig` in code.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finance_demo.errors import SettingsError

__all__ = [
    "DataConfig",
    "ModelSettings",
    "PipelineConfig",
    "Settings",
    "TrainingConfig",
    "load_settings",
    "load_settings_file",
]

_NORMALIZE = ("last", "none")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")


def _check_float(name: str, value: Any, low: float, high: float, *, open_low=False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{name} must be a number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        bracket = "(" if open_low else "["
        raise SettingsError(f"{name} must be in {bracket}{low}, {high}], got {value}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class PipelineConfig:
    """Window sizes shared by training and the live loop (saved in the model file).

    Args:
        buffer_size: Closes per window (the Buffer's size).
        step_size: New closes between two windows (1 = a window every tick).
        seq_len: Feature vectors (windows) per model input sequence.
        window_size: Moving-average window of the feature extraction.
        normalize: ``"last"`` (windows divided by their last close) or ``"none"``.
        horizons: Ticks ahead of each predicted log return.

    Examples:
        >>> cfg = PipelineConfig(buffer_size=30, seq_len=10)
        >>> cfg.min_history
        40
    """

    buffer_size: int = 50
    step_size: int = 1
    seq_len: int = 20
    window_size: int = 5
    normalize: str = "last"
    horizons: tuple[int, ...] = (1,)

    def __post_init__(self) -> None:
        _check_int("buffer_size", self.buffer_size, 2)
        _check_int("step_size", self.step_size, 1)
        _check_int("seq_len", self.seq_len, 1)
        _check_int("window_size", self.window_size, 1)
        if self.window_size > self.buffer_size:
            raise SettingsError(
                f"window_size must be <= buffer_size ({self.buffer_size}), got {self.window_size}"
            )
        if self.normalize is None:
            object.__setattr__(self, "normalize", "none")
        if self.normalize not in _NORMALIZE:
            raise SettingsError(f"normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
        horizons = self.horizons
        if isinstance(horizons, int) and not isinstance(horizons, bool):
            horizons = (horizons,)
        if not isinstance(horizons, (list, tuple)) or not horizons:
            raise SettingsError(f"horizons must be a non-empty list of integers, got {horizons!r}")
        for h in horizons:
            _check_int("horizons", h, 1)
        if any(b <= a for a, b in itertools.pairwise(horizons)):
            raise SettingsError(f"horizons must be strictly increasing, got {list(horizons)}")
        object.__setattr__(self, "horizons", tuple(horizons))

    @property
    def span(self) -> int:
        """Closes covered by one input sequence: ``buffer_size + (seq_len - 1) * step_size``."""
        return self.buffer_size + (self.seq_len - 1) * self.step_size

    @property
    def min_history(self) -> int:
        """Closes needed for one sequence and its longest-horizon target."""
        return self.span + max(self.horizons)


@dataclass(frozen=True)
class ModelSettings:
    """Network size (the ``model`` package's ``ModelConfig`` without in/out sizes).

    Examples:
        >>> ModelSettings(hidden_dim=16).hidden_dim
        16
    """

    hidden_dim: int = 32
    num_layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    attention: bool = False
    num_heads: int = 4

    def __post_init__(self) -> None:
        _check_int("hidden_dim", self.hidden_dim, 1)
        _check_int("num_layers", self.num_layers, 1)
        _check_float("dropout", self.dropout, 0.0, 0.99)
        _check_bool("bidirectional", self.bidirectional)
        _check_bool("attention", self.attention)
        _check_int("num_heads", self.num_heads, 1)
        width = self.hidden_dim * (2 if self.bidirectional else 1)
        if self.attention and width % self.num_heads:
            raise SettingsError(
                f"num_heads ({self.num_heads}) must divide hidden_dim x directions ({width})"
            )


@dataclass(frozen=True)
class TrainingConfig:
    """Training and evaluation settings.

    Args:
        epochs: Maximum passes over the training part.
        batch_size: Sequences per optimizer step.
        lr: Adam learning rate.
        weight_decay: L2 penalty.
        patience: Epochs without validation improvement before stopping early.
        seed: Seed of weights and shuffling.
        val_fraction: Share of samples (after the training part) used for validation.
        test_fraction: Share of samples at the end held out for the test evaluation.
        level: Nominal coverage of the prediction intervals.
        num_threads: Torch threads while training and evaluating (``null``: torch's
            default). 1 by measurement: on a busy 2-core machine two threads made some
            epochs 30x slower (0.4-0.6 s vs up to 31 s per epoch on the S&P 500 sample).

    Examples:
        >>> TrainingConfig(epochs=3).epochs
        3
    """

    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-5
    patience: int = 5
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    level: float = 0.9
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1)
        if self.num_threads is not None:
            _check_int("num_threads", self.num_threads, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_float("lr", self.lr, 0.0, 10.0, open_low=True)
        _check_float("weight_decay", self.weight_decay, 0.0, 10.0)
        _check_int("patience", self.patience, 1)
        _check_int("seed", self.seed, 0)
        _check_float("val_fraction", self.val_fraction, 0.0, 0.5, open_low=True)
        _check_float("test_fraction", self.test_fraction, 0.0, 0.5)
        _check_float("level", self.level, 0.5, 0.999)


@dataclass(frozen=True)
class DataConfig:
    """Where the candles come from (used by the CLI and notebooks).

    Examples:
        >>> DataConfig(symbol="MSFT").source
        'yahoo'
    """

    symbol: str | None = None
    period: str = "1y"
    interval: str = "1d"
    source: str = "yahoo"

    def __post_init__(self) -> None:
        for name in ("period", "interval", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise SettingsError(f"{name} must be a non-empty string, got {value!r}")
        if self.symbol is not None and (not isinstance(self.symbol, str) or not self.symbol):
            raise SettingsError(f"symbol must be a non-empty string, got {self.symbol!r}")


@dataclass(frozen=True)
class Settings:
    """All settings of a run: data, pipeline, network and training.

    Examples:
        >>> s = load_settings({"buffer": {"buffer_size": 30}, "training": {"epochs": 2}})
        >>> (s.pipeline.buffer_size, s.training.epochs, s.model.hidden_dim)
        (30, 2, 32)
    """

    data: DataConfig = field(default_factory=DataConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    model: ModelSettings = field(default_factory=ModelSettings)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Return the settings in the file layout (sections of plain values)."""
        p = dataclasses.asdict(self.pipeline)
        model = dataclasses.asdict(self.model)
        model.update(seq_len=p["seq_len"], horizons=list(p["horizons"]))
        return {
            "data": dataclasses.asdict(self.data),
            "buffer": {"buffer_size": p["buffer_size"], "step_size": p["step_size"]},
            "features": {"window_size": p["window_size"], "normalize": p["normalize"]},
            "model": model,
            "training": dataclasses.asdict(self.training),
        }


# section -> (class, keys of that section that belong to the class)
_SECTIONS: dict[str, tuple[type, tuple[str, ...]]] = {
    "data": (DataConfig, ("symbol", "period", "interval", "source")),
    "buffer": (PipelineConfig, ("buffer_size", "step_size")),
    "features": (PipelineConfig, ("window_size", "normalize")),
    "model": (
        ModelSettings,
        ("hidden_dim", "num_layers", "dropout", "bidirectional", "attention", "num_heads"),
    ),
    "training": (TrainingConfig, tuple(f.name for f in dataclasses.fields(TrainingConfig))),
}
_PIPELINE_IN_MODEL = ("seq_len", "horizons")
_PIPELINE_SECTION = {
    "buffer_size": "buffer",
    "step_size": "buffer",
    "window_size": "features",
    "normalize": "features",
    "seq_len": "model",
    "horizons": "model",
}


def _build(cls: type, values: dict[str, Any], section: str | None) -> Any:
    """Build one config, prefixing the failing key with its file section."""
    try:
        return cls(**values)
    except SettingsError as exc:
        msg = str(exc)
        key = msg.split(" ", 1)[0]
        prefix = section or _PIPELINE_SECTION.get(key)
        raise SettingsError(f"{prefix}.{msg}" if prefix else msg) from None


def load_settings(raw: dict[str, Any] | None, base: Settings | None = None) -> Settings:
    """Build :class:`Settings` from a dict of sections, naming unknown keys and bad values.

    Args:
        raw: ``{"buffer": {...}, "features": {...}, "model": {...}, "training": {...},
            "data": {...}}``; missing sections and keys keep their defaults (or ``base``).
        base: Settings to start from (defaults when ``None``).

    Returns:
        The validated settings.

    Raises:
        SettingsError: An unknown section or key (named, with the known ones), or a bad
            value (``section.key must ...``).
    """
    base = base or Settings()
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise SettingsError(f"settings must be a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise SettingsError(
            f"unknown settings section {unknown[0]!r} (known: {', '.join(_SECTIONS)})"
        )
    values: dict[type, dict[str, Any]] = {
        DataConfig: dataclasses.asdict(base.data),
        PipelineConfig: dataclasses.asdict(base.pipeline),
        ModelSettings: dataclasses.asdict(base.model),
        TrainingConfig: dataclasses.asdict(base.training),
    }
    for section, body in raw.items():
        if body is None:
            continue
        if not isinstance(body, dict):
            raise SettingsError(f"section {section!r} must be a mapping, got {body!r}")
        cls, keys = _SECTIONS[section]
        allowed = keys + (_PIPELINE_IN_MODEL if section == "model" else ())
        for key, value in body.items():
            if key not in allowed:
                raise SettingsError(
                    f"unknown key {section}.{key} (known in {section}: {', '.join(allowed)})"
                )
            target = PipelineConfig if key in _PIPELINE_IN_MODEL else cls
            values[target][key] = value
    return Settings(
        data=_build(DataConfig, values[DataConfig], "data"),
        pipeline=_build(PipelineConfig, values[PipelineConfig], None),
        model=_build(ModelSettings, values[ModelSettings], "model"),
        training=_build(TrainingConfig, values[TrainingConfig], "training"),
    )


def load_settings_file(path: str | Path, base: Settings | None = None) -> Settings:
    """Read a YAML settings file (see the module docstring) into :class:`Settings`.

    Args:
        path: The YAML file.
        base: Settings to start from.

    Returns:
        The validated settings.

    Raises:
        SettingsError: The file cannot be read, is not YAML, or has a bad key or value
            (the message starts with the file name).
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SettingsError(f"{path}{pos}: {problem}") from None
    try:
        return load_settings(raw, base)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None
