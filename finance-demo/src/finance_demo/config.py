"""Settings of the pipeline: the lower packages' configs, composed, and one loader.

Each parameter has one home: the package that uses it owns its frozen config, with its one
default and its one validation. A settings file (YAML) maps its sections one to one to
those classes; every key is optional::

    data:       DataConfig          (symbol, period, interval, source)
    buffer:     signal_processing.BufferConfig      (buffer_size, step_size; channel_shape
                is derived from the feature groups, not a key)
    features:   feature_extraction.FeatureConfig    (window_size, normalize, groups)
    model:      model.ModelConfig   (seq_len, horizons, hidden_dim, ...; input_dim is
                derived from the features, not a key)
    training:   model.TrainConfig   (epochs, batch_size, lr, patience, seed, ...)
    evaluation: EvaluationConfig    (test_fraction, level): the pipeline's own

:func:`settings_schema` lists every field (section, flag, type, default, choices, help) by
introspection; the CLI's flags and the README's parameter table are generated from it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from feature_extraction.config import GROUPS, FeatureConfig
from model.config import ModelConfig, TrainConfig, check_level
from signal_processing import BufferConfig

from finance_demo.errors import SettingsError

#: Largest settings file read, in bytes (a real one is a few hundred bytes).
MAX_SETTINGS_BYTES = 1 << 20

#: Most YAML nodes a settings file may expand to, each alias counting its whole subtree
#: (a "billion laughs" file is refused at composition, before anything is built).
MAX_YAML_NODES = 10_000

#: Deepest nesting of YAML collections in a settings file.
MAX_YAML_DEPTH = 50


def excerpt(value: Any, limit: int = 80) -> str:
    """Return a one-line, bounded ``repr``-like excerpt of ``value`` for an error message.

    Containers are walked with a budget of ``limit`` characters: the walk stops (``...``)
    once the budget is spent, so a huge or deeply nested (even recursive) structure costs
    O(limit); ``repr`` is only called on bounded scalars. Long strings and bytes are cut,
    integers of more than 30 digits are named by their size.

    Args:
        value: Anything.
        limit: Most characters of the result (clamped to [8, 400]).

    Returns:
        The excerpt, at most ``limit`` characters, without newlines.

    Examples:
        >>> excerpt([1, "two", {"three": 3.0}])
        "[1, 'two', {'three': 3.0}]"
        >>> excerpt(list(range(1000)), limit=20)
        '[0, 1, 2, 3, 4, 5...'
        >>> excerpt(10**100)
        '<integer of 101 digits>'
    """
    limit = min(max(8, limit), 400)  # the walk recurses at most once per character
    parts: list[str] = []
    budget = limit - 3  # room for the final "..."

    def emit(text: str) -> bool:
        nonlocal budget
        if len(text) > budget:
            return False
        parts.append(text)
        budget -= len(text)
        return True

    def scalar(v: Any) -> str:
        if isinstance(v, bool) or v is None or isinstance(v, float):
            return repr(v)
        if isinstance(v, int):
            if v.bit_length() > 99:  # more than 30 digits: never convert it to text
                digits = int(v.bit_length() * 0.30103) + 1
                return f"<integer of {digits} digits>"
            return repr(int(v))
        if isinstance(v, (str, bytes)):
            cut = repr(v[: limit + 1])
            return cut if len(v) <= limit else cut[:-1] + "..." + cut[-1]
        return f"<{type(v).__name__}>"

    def walk(v: Any) -> bool:
        if isinstance(v, (list, tuple, set, frozenset)):
            opener, closer = {list: "[]", tuple: "()"}.get(type(v), "{}")
            if not emit(opener):
                return False
            for i, item in enumerate(v):
                if (i and not emit(", ")) or not walk(item):
                    return False
            return emit(closer)
        if isinstance(v, dict):
            if not emit("{"):
                return False
            for i, (k, item) in enumerate(v.items()):
                if (i and not emit(", ")) or not walk(k) or not emit(": ") or not walk(item):
                    return False
            return emit("}")
        text = scalar(v)
        return emit(text) or (not parts and emit(text[: budget - 3] + "..."))

    done = walk(value)
    out = "".join(parts) + ("" if done else "...")
    return out.replace("\n", " ")


__all__ = [
    "MAX_SETTINGS_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "DataConfig",
    "EvaluationConfig",
    "PipelineSpec",
    "SettingField",
    "Settings",
    "excerpt",
    "load_settings",
    "load_settings_file",
    "price_decimals",
    "schema_markdown",
    "settings_from_flags",
    "settings_schema",
]


def _finite_number(value: Any) -> bool:
    """An int (not bool) of at most 64 bits, or a finite float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value.bit_length() <= 64 if isinstance(value, int) else math.isfinite(value)


@dataclass(frozen=True)
class DataConfig:
    """Where the candles come from (used by the CLI and notebooks).

    Args:
        symbol: Ticker, e.g. AAPL or ^GSPC (required by the commands that fetch).
        period: History length (1mo, 1y, 5y, max...); null: the source's default (the whole
            series for sample, csv and replay; Yahoo's per-interval default for yahoo).
        interval: Candle interval (1h, 1d, 1wk...).
        source: Where candles come from: yahoo, sample, csv:PATH, replay.
        adjust_splits: Divide the prices before each probable unadjusted split of a CSV
            (csv:PATH, replay:PATH) by its ratio; without it such a jump is only warned
            about, in one line with the date and the ratio.

    Examples:
        >>> DataConfig(symbol="MSFT").source
        'yahoo'
    """

    symbol: str | None = None
    period: str | None = None
    interval: str = "1d"
    source: str = "yahoo"
    adjust_splits: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.adjust_splits, bool):
            raise SettingsError(
                f"adjust_splits must be true or false, got {excerpt(self.adjust_splits)}"
            )
        for name in ("period", "interval", "source"):
            value = getattr(self, name)
            if value is None and name == "period":
                continue
            if not isinstance(value, str) or not value:
                raise SettingsError(f"{name} must be a non-empty string, got {excerpt(value)}")
        if self.symbol is not None and (not isinstance(self.symbol, str) or not self.symbol):
            raise SettingsError(f"symbol must be a non-empty string, got {excerpt(self.symbol)}")


@dataclass(frozen=True)
class EvaluationConfig:
    """How a trained model is scored: the pipeline's only own settings.

    Args:
        test_fraction: Share of the samples at the end held out for the test evaluation,
            in [0, 0.5].
        level: Nominal coverage of the prediction intervals, strictly between 0 and 1.

    Examples:
        >>> EvaluationConfig().level
        0.9
    """

    test_fraction: float = 0.15
    level: float = 0.9

    def __post_init__(self) -> None:
        value = self.test_fraction
        if not _finite_number(value) or not 0.0 <= value <= 0.5:
            raise ValueError(f"test_fraction must be in [0, 0.5], got {excerpt(value)}")
        # model.calibration.check_level owns the range of level; its message shows the
        # value whole, so only a number of bounded size reaches it.
        level = self.level
        if isinstance(level, bool) or not isinstance(level, (int, float)):
            raise ValueError(f"level must be a number, got {excerpt(level)}")
        if isinstance(level, int) and level.bit_length() > 64:
            raise ValueError(f"level must be strictly between 0 and 1, got {excerpt(level)}")
        check_level(level)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``EvaluationConfig.from_dict`` rebuilds it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationConfig:
        """Build a config from a mapping of field names (strict: no other container or key).

        Args:
            data: Field names to values (missing ones keep their defaults).

        Returns:
            The validated config.

        Raises:
            ValueError: Not a mapping, an unknown key or a bad value.
        """
        if not isinstance(data, dict):
            raise ValueError(
                f"EvaluationConfig needs a mapping of field names, got {type(data).__name__}"
            )
        names = _field_names(cls)
        unknown = [k for k in data if k not in names]
        if unknown:
            shown = sorted(
                k if isinstance(k, str) and k.isprintable() and len(k) <= 40 else excerpt(k, 40)
                for k in unknown[:1000]
            )
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ValueError(
                f"unknown EvaluationConfig field(s): {', '.join(shown[:5])}{more} "
                f"(known: {', '.join(names)})"
            )
        return cls(**data)


#: Candle intervals as a model file may record them (``5m``, ``1h``, ``1d``, ``1wk``...).
_INTERVAL = re.compile(r"[1-9][0-9]{0,3}(m|h|d|wk|mo)")


def price_decimals(closes: Any) -> int:
    """Decimals that show a price series at its instrument's precision (about 6 digits).

    ``5 - floor(log10(median |close|))``, clipped to ``[2, 8]``: the S&P 500 (~2,000) gets
    2, a stock at ~150 gets 3, EUR/USD (~1.16) gets 5, a coin at ~0.05 gets 7.

    Args:
        closes: The closes of the series (any array-like of positive numbers).

    Returns:
        The number of decimals (2 when there is no finite positive close).

    Examples:
        >>> price_decimals([1.1612, 1.1634]), price_decimals([2712.3]), price_decimals([150.0])
        (5, 2, 3)
    """
    import numpy as np

    values = np.abs(np.asarray(closes, dtype=np.float64).reshape(-1))
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 2
    return int(min(8, max(2, 5 - math.floor(math.log10(float(np.median(values)))))))


@dataclass(frozen=True)
class PipelineSpec:
    """What a trained model expects: one frozen object, recorded in the model file.

    Nothing is declared twice: the sizes come from the buffer, features and model configs
    (``seq_len`` and ``horizons`` are the network's), and the spec adds only what a model
    needs from the data side: ``symbol``, ``interval``, the interval ``level`` and the
    price precision. The System, :func:`~finance_demo.batch_predict`, the CLI and every
    later consumer read a model through :func:`~finance_demo.spec_of`, never dict keys.
    The model file records :meth:`to_dict` (without the network, which the file holds as
    its own ``config``); :meth:`from_dict` validates every field through its config class.

    Args:
        buffer: The buffer's sizes.
        features: The feature extraction's settings.
        model: The network's config (``seq_len``, ``horizons``; ``input_dim`` must be the
            features' count).
        symbol: Ticker the model was trained on (``None``: not recorded).
        interval: Candle interval of the training data (``None``: not recorded).
        level: Nominal coverage of the prediction intervals.
        price_decimals: Decimals used to print prices (see :func:`price_decimals`).

    Examples:
        >>> p = PipelineSpec.build(buffer_size=30, seq_len=10)
        >>> p.span, p.min_history
        (39, 40)
    """

    buffer: BufferConfig = field(default_factory=BufferConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    symbol: str | None = None
    interval: str | None = None
    level: float = 0.9
    price_decimals: int = 2

    def __post_init__(self) -> None:
        for name, cls in (
            ("buffer", BufferConfig),
            ("features", FeatureConfig),
            ("model", ModelConfig),
        ):
            if not isinstance(getattr(self, name), cls):
                raise SettingsError(f"{name} must be a {cls.__name__}")
        if self.features.window_size > self.buffer.buffer_size:
            raise SettingsError(
                f"features.window_size must be <= buffer_size ({self.buffer.buffer_size}), "
                f"got {self.features.window_size}"
            )
        try:
            n = self.features.n_features(self.buffer.channels)
        except ValueError as exc:
            raise SettingsError(f"buffer.channel_shape: {exc}") from None
        if self.model.input_dim != n:
            raise SettingsError(
                f"the network takes {self.model.input_dim} features per step, the features "
                f"settings make {n}"
            )
        index = self.model.sigma_anchor_index
        if index is not None:
            name = self.features.feature_names(self.buffer.channels)[index]
            if name not in ANCHOR_FEATURES:
                raise SettingsError(
                    f"model.sigma_anchor_index {index} is feature {name!r}, not a volatility "
                    f"({', '.join(ANCHOR_FEATURES)})"
                )
        if self.buffer.channel_shape != self.features.channel_shape:
            what = "OHLCV candles" if self.features.needs_ohlcv else "closes"
            raise SettingsError(
                f"buffer.channel_shape must be {self.features.channel_shape} ({what} for "
                f"features.groups {','.join(self.features.groups)}), "
                f"got {self.buffer.channel_shape}"
            )
        # the most demanding group first: the message names the size that is enough
        groups = sorted(self.features.groups, key=self.features.group_min_window, reverse=True)
        for g in groups:
            need = self.features.group_min_window(g)
            if g != "trend_fft" and self.buffer.buffer_size < need:
                raise SettingsError(
                    f"buffer_size must be at least {need} for features.groups {g} "
                    f"({GROUPS[g].why}), got {self.buffer.buffer_size}"
                )
        if self.symbol is not None and (
            not isinstance(self.symbol, str) or not 0 < len(self.symbol) <= 64
        ):
            raise SettingsError("symbol must be a string of 1 to 64 characters or null")
        if self.interval is not None and (
            not isinstance(self.interval, str) or not _INTERVAL.fullmatch(self.interval)
        ):
            raise SettingsError("interval must be a candle interval like 1d, 1h or 5m, or null")
        try:
            check_level(self.level)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        d = self.price_decimals
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 12:
            raise SettingsError("price_decimals must be an integer in [0, 12]")

    @classmethod
    def build(cls, **sizes: Any) -> PipelineSpec:
        """Build a spec from flat sizes (``buffer_size=30, seq_len=10, ...``).

        Each key goes to the config that owns it (``symbol``, ``interval``, ``level`` and
        ``price_decimals`` to the spec); unknown keys are refused; the network's
        ``input_dim`` is derived from the features.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        parts: dict[str, dict[str, Any]] = {"buffer": {}, "features": {}, "model": {}}
        owners = {"buffer": BufferConfig, "features": FeatureConfig, "model": ModelConfig}
        own = {k: sizes.pop(k) for k in _SPEC_OWN if k in sizes}
        for key, value in sizes.items():
            owner = next((s for s, c in owners.items() if key in _field_names(c)), None)
            if owner is None:
                raise ValueError(f"unknown pipeline size {key!r}")
            parts[owner][key] = value
        features = FeatureConfig(**parts["features"])
        parts["buffer"].setdefault("channel_shape", features.channel_shape)
        buffer = BufferConfig(**parts["buffer"])
        parts["model"].setdefault("input_dim", features.n_features(buffer.channels))
        anchor = parts["model"].get("sigma_anchor", "auto")
        if isinstance(anchor, str) and "sigma_anchor_index" not in parts["model"]:
            parts["model"]["sigma_anchor_index"] = anchor_index(features, buffer.channels, anchor)
        return cls(buffer, features, ModelConfig(**parts["model"]), **own)

    buffer_size = property(lambda self: self.buffer.buffer_size, doc="Closes per window.")
    step_size = property(lambda self: self.buffer.step_size, doc="Closes between windows.")
    window_size = property(lambda self: self.features.window_size, doc="Moving average.")
    normalize = property(lambda self: self.features.normalize, doc="Window normalization.")
    seq_len = property(lambda self: self.model.seq_len, doc="Windows per input sequence.")
    horizons = property(lambda self: self.model.horizons, doc="Ticks ahead of each output.")

    @property
    def span(self) -> int:
        """Closes covered by one input sequence: ``buffer_size + (seq_len - 1) * step_size``."""
        return self.buffer_size + (self.seq_len - 1) * self.step_size

    @property
    def min_history(self) -> int:
        """Closes needed for one sequence and its longest-horizon target."""
        return self.span + max(self.horizons)

    def format_price(self, price: float) -> str:
        """Format a price at the spec's precision (``1.16234``, ``2712.35``)."""
        return f"{price:.{self.price_decimals}f}"

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as the model file records it (the network is the file's own).

        Examples:
            >>> sorted(PipelineSpec().to_dict())
            ['buffer', 'features', 'interval', 'level', 'price_decimals', 'symbol']
        """
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "buffer": self.buffer.to_dict(),
            "features": self.features.to_dict(),
            "level": self.level,
            "price_decimals": self.price_decimals,
        }

    @classmethod
    def from_dict(cls, data: Any, model: ModelConfig) -> PipelineSpec:
        """Rebuild and validate a spec recorded by :meth:`to_dict`, with its network config.

        Every field goes through its config class (``BufferConfig.from_dict``,
        ``FeatureConfig.from_dict``); unknown keys, a list where a mapping belongs, a
        value out of range, or a network whose inputs do not fit the features are refused.

        Args:
            data: The recorded mapping.
            model: The network's config (the model file's ``config``).

        Raises:
            SettingsError: One line naming the broken field.
        """
        if not isinstance(data, dict):
            raise SettingsError(f"the pipeline spec must be a mapping, got {type(data).__name__}")
        known = ("symbol", "interval", "buffer", "features", *_SPEC_OWN[2:])
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise SettingsError(
                f"unknown pipeline key {unknown[0][:40]!r} (known: {', '.join(known)})"
            )
        parts: dict[str, Any] = {}
        for name, cls_ in (("buffer", BufferConfig), ("features", FeatureConfig)):
            body = data.get(name, {})
            if not isinstance(body, dict):
                raise SettingsError(f"pipeline {name} must be a mapping, got {type(body).__name__}")
            try:
                parts[name] = cls_.from_dict(body)
            except (ValueError, TypeError) as exc:
                raise SettingsError(f"pipeline {name}: {exc}") from None
        if not isinstance(model, ModelConfig):
            raise SettingsError("the network config must be a ModelConfig")
        own = {k: data[k] for k in ("symbol", "interval", *_SPEC_OWN[2:]) if k in data}
        return cls(parts["buffer"], parts["features"], model, **own)


#: Features that are a per-step volatility (a std of one-step log returns), the choices
#: of ``model.sigma_anchor``; ``auto`` takes the first of them present.
ANCHOR_FEATURES: tuple[str, ...] = (
    "ewma_vol", "rv_20", "rv_10", "rv_5", "parkinson", "garman_klass", "rogers_satchell",
)  # fmt: skip
_AUTO_ANCHOR = "ewma_vol"


def anchor_index(features: FeatureConfig, channels: int, anchor: str) -> int | None:
    """The feature position that ``model.sigma_anchor`` names (``None``: no blend).

    ``auto``: ``ewma_vol`` when the features have it (the ewma_vol group), else none.

    Raises:
        SettingsError: A name that is not a volatility feature of these features.
    """
    if anchor == "none":
        return None
    names = features.feature_names(channels)
    if anchor == "auto":
        return names.index(_AUTO_ANCHOR) if _AUTO_ANCHOR in names else None
    if anchor not in ANCHOR_FEATURES:
        raise SettingsError(
            f"model.sigma_anchor must be auto, none or one of {', '.join(ANCHOR_FEATURES)}, "
            f"got {anchor!r}"
        )
    if anchor not in names:
        group = next(g for g, spec in GROUPS.items() if anchor in spec.features)
        raise SettingsError(
            f"model.sigma_anchor {anchor} needs the {group} feature group "
            f"(features.groups {','.join(features.groups)})"
        )
    return names.index(anchor)


#: The pipeline's default feature groups: every group, so that ``model.sigma_anchor``
#: (``auto``) blends the interval with ``ewma_vol``. Chosen by walk-forward evidence
#: (docs/ablation.md); ``FeatureConfig``'s own default stays the seed's ``trend_fft``
#: (the feature-extraction package alone reads closes unless asked for more).
PIPELINE_GROUPS: tuple[str, ...] = (
    "trend_fft", "returns", "range_vol", "realized_vol", "volume", "technical", "ewma_vol",
)  # fmt: skip

#: The spec's own fields (the rest belong to the buffer, features and model configs).
_SPEC_OWN = ("symbol", "interval", "level", "price_decimals")


#: Section name -> the config class it maps to, in file order.
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "buffer": BufferConfig,
    "features": FeatureConfig,
    "model": ModelConfig,
    "training": TrainConfig,
    "evaluation": EvaluationConfig,
}

#: Fields that are derived by the pipeline, not settings: neither keys nor flags.
DERIVED: frozenset[tuple[str, str]] = frozenset(
    {("model", "input_dim"), ("model", "sigma_anchor_index"), ("buffer", "channel_shape")}
)

#: Keys that moved between sections, for a helpful message on old files.
_MOVED = {("training", "test_fraction"): "evaluation", ("training", "level"): "evaluation"}


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _keys(section: str) -> list[str]:
    return [n for n in _field_names(SECTIONS[section]) if (section, n) not in DERIVED]


@dataclass(frozen=True)
class Settings:
    """All settings of a run, one section per config class (see the module docstring).

    ``model.input_dim`` is derived from the features, ``buffer.channel_shape`` from the
    feature groups (``(5,)``: OHLCV candles when a group needs them, else ``(1,)``:
    closes); ``pipeline`` is a view of the buffer, features and model sections.

    Examples:
        >>> s = load_settings({"buffer": {"buffer_size": 30}, "training": {"epochs": 2}})
        >>> (s.buffer.buffer_size, s.training.epochs, s.model.hidden_dim)
        (30, 2, 32)
    """

    data: DataConfig = field(default_factory=DataConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    features: FeatureConfig = field(default_factory=lambda: FeatureConfig(groups=PIPELINE_GROUPS))
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        for section, cls in SECTIONS.items():
            value = getattr(self, section)
            if not isinstance(value, cls):
                raise SettingsError(
                    f"{section} must be a {cls.__name__}, got {type(value).__name__}"
                )
        shape = self.features.channel_shape  # derived: (5,) OHLCV for OHLCV groups, else (1,)
        if self.buffer.channel_shape != shape:
            try:
                buffer = dataclasses.replace(self.buffer, channel_shape=shape)
            except ValueError as exc:
                raise SettingsError(
                    f"buffer.{exc} (features.groups {','.join(self.features.groups)} read "
                    f"{shape[0]} values per candle)"
                ) from None
            object.__setattr__(self, "buffer", buffer)
        input_dim = self.features.n_features(self.buffer.channels)
        index = anchor_index(self.features, self.buffer.channels, self.model.sigma_anchor)
        if (self.model.input_dim, self.model.sigma_anchor_index) != (input_dim, index):
            derived = {"input_dim": input_dim, "sigma_anchor_index": index}  # both at once
            object.__setattr__(self, "model", dataclasses.replace(self.model, **derived))
        _ = self.pipeline  # the cross-section checks

    @property
    def pipeline(self) -> PipelineSpec:
        """The spec of the model these settings train (see :class:`PipelineSpec`)."""
        return PipelineSpec(
            self.buffer,
            self.features,
            self.model,
            symbol=self.data.symbol,
            interval=self.data.interval,
            level=self.evaluation.level,
        )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Return the settings in the file layout (sections of plain values)."""
        out: dict[str, dict[str, Any]] = {}
        for section in SECTIONS:
            config = getattr(self, section)
            values = {name: getattr(config, name) for name in _keys(section)}
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return out


def _build(section: str, values: dict[str, Any]) -> Any:
    """Build one section's config; its ValueError becomes ``SettingsError("section.key ...")``."""
    try:
        return SECTIONS[section](**values)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{section}.{exc}") from None


def load_settings(raw: dict[str, Any] | None, base: Settings | None = None) -> Settings:
    """Build :class:`Settings` from a dict of sections, naming unknown keys and bad values.

    Args:
        raw: ``{"data": {...}, "buffer": {...}, "features": {...}, "model": {...},
            "training": {...}, "evaluation": {...}}``; missing sections and keys keep their
            defaults (or ``base``'s values).
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
    unknown = [key for key in raw if key not in SECTIONS]
    if unknown:
        raise SettingsError(
            f"unknown settings section {excerpt(unknown[0])} (known: {', '.join(SECTIONS)})"
        )
    built: dict[str, Any] = {}
    for section in SECTIONS:
        config = getattr(base, section)
        body = raw.get(section)
        if body is None:
            built[section] = config
            continue
        if not isinstance(body, dict):
            raise SettingsError(
                f"section {section!r} must be a mapping, got {type(body).__name__} {excerpt(body)}"
            )
        allowed = _keys(section)
        values = {name: getattr(config, name) for name in _field_names(SECTIONS[section])}
        for key, value in body.items():
            if key not in allowed:
                moved = _MOVED.get((section, key))
                hint = f"; it moved to {moved}.{key}" if moved else ""
                plain = isinstance(key, str) and len(key) <= 80 and key.isprintable()
                shown = key if plain else excerpt(key)
                known = ", ".join(allowed)
                raise SettingsError(
                    f"unknown key {section}.{shown} (known in {section}: {known}){hint}"
                )
            values[key] = tuple(value) if isinstance(value, list) else value
        built[section] = _build(section, values)
    try:
        return Settings(**built)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _read_bounded(path: Path) -> str:
    """Read at most ``MAX_SETTINGS_BYTES + 1`` bytes of ``path`` as UTF-8 text."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise SettingsError(
            f"{path}: cannot read settings file ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(
            f"{path}: settings file is larger than {MAX_SETTINGS_BYTES} bytes "
            "(a settings file is a few lines of YAML)"
        )
    if b"\0" in data:
        raise SettingsError(f"{path}: not a text file (it has NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{path}: not a UTF-8 text file (bad byte at offset {exc.start})"
        ) from None


@functools.cache
def _bounded_loader() -> type:
    """The YAML loader of settings files: safe tags only, with node and depth bounds.

    Built on first use (yaml is imported lazily). With libyaml (``yaml.CSafeLoader``'s C
    parser) the text is scanned and parsed in C, which keeps a 1 MiB file well under a
    second; the nodes are composed in Python, so the bounds below hold either way.
    Without libyaml it is a ``yaml.SafeLoader`` subclass whose scanner also refuses deep
    brackets and indentation as it meets them.
    """
    import yaml
    from yaml.composer import Composer, ComposerError
    from yaml.constructor import ConstructorError, SafeConstructor
    from yaml.events import AliasEvent
    from yaml.resolver import Resolver
    from yaml.scanner import ScannerError

    class Bounds:
        """The bounds, checked while composing, before anything is constructed.

        Refused: more than ``MAX_YAML_NODES`` nodes, an alias counting as many nodes as
        its anchor's whole subtree (nested aliases cannot blow up); nesting deeper than
        ``MAX_YAML_DEPTH``; recursive aliases. A scalar that a safe constructor cannot
        convert (``!!int abc``, a 5000-digit integer) becomes a ``ConstructorError``.
        """

        _nodes = 0
        _depth = 0

        def _count(self, n: int, mark: Any) -> None:
            self._nodes += n
            if self._nodes > MAX_YAML_NODES:
                raise ComposerError(
                    None, None, f"more than {MAX_YAML_NODES} YAML nodes (aliases expanded)", mark
                )

        def compose_node(self, parent: Any, index: Any) -> Any:
            sizes = self.__dict__.setdefault("_sizes", {})  # node -> expanded subtree size
            mark = self.peek_event().start_mark
            if self.check_event(AliasEvent):
                node = super().compose_node(parent, index)
                if node not in sizes:  # its anchor is still being composed
                    raise ComposerError(None, None, "recursive YAML alias", mark)
                self._count(sizes[node], mark)
                return node
            self._depth += 1
            if self._depth > MAX_YAML_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark)
            start = self._nodes
            self._count(1, mark)
            node = super().compose_node(parent, index)
            self._depth -= 1
            sizes[node] = self._nodes - start
            return node

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep=deep)
            except yaml.YAMLError:
                raise
            except (ValueError, TypeError, AttributeError, ArithmeticError, LookupError) as exc:
                value = node.value if isinstance(node.value, str) else ""
                raise ConstructorError(
                    None,
                    None,
                    f"bad {node.tag.rsplit(':', 1)[-1]} value {excerpt(value, 40)} "
                    f"({type(exc).__name__})",
                    node.start_mark,
                ) from None

    if getattr(yaml, "__with_libyaml__", False):
        from yaml._yaml import CParser

        class CBoundedLoader(Bounds, Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
                Composer.__init__(self)
                SafeConstructor.__init__(self)
                Resolver.__init__(self)

        return CBoundedLoader

    class BoundedLoader(Bounds, yaml.SafeLoader):  # type: ignore[misc]
        def fetch_flow_collection_start(self, token_class: Any) -> None:
            if self.flow_level >= MAX_YAML_DEPTH:  # the scanner looks ahead over brackets
                raise ScannerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", self.get_mark()
                )
            super().fetch_flow_collection_start(token_class)

        def add_indent(self, column: int) -> bool:
            if len(self.indents) >= MAX_YAML_DEPTH:
                raise ScannerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", self.get_mark()
                )
            return super().add_indent(column)

    return BoundedLoader


def load_settings_file(path: str | Path, base: Settings | None = None) -> Settings:
    """Read a YAML settings file (see the module docstring) into :class:`Settings`.

    Bounded: at most ``MAX_SETTINGS_BYTES + 1`` bytes are read (a bigger file is refused),
    the text must be UTF-8 without NUL bytes, and the YAML (safe tags only) may expand to
    at most ``MAX_YAML_NODES`` nodes nested at most ``MAX_YAML_DEPTH`` deep, aliases
    counted expanded. Worst cases (a 1 MiB file, a "billion laughs" file, 100k-deep
    nesting) fail in under 0.5 s with libyaml (in PyYAML's wheels; about 2 s for a 1 MiB
    file without it) and a memory peak under 10 MB (see the tests).

    Args:
        path: The YAML file.
        base: Settings to start from.

    Returns:
        The validated settings.

    Raises:
        SettingsError: The file cannot be read, is too big, is not UTF-8 text, is not
            YAML or breaks a bound, or has a bad key or value (one line, starting with the
            file name).
    """
    import yaml

    path = Path(path)
    text = _read_bounded(path)
    try:
        raw = yaml.load(text, Loader=_bounded_loader())  # safe tags only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        # One line, and bounded: the problem may quote a tag or an alias name of the file.
        problem = " ".join(str(problem).split())
        problem = problem if len(problem) <= 160 else problem[:157] + "..."
        raise SettingsError(f"{path}{pos}: {problem}") from None
    try:
        return load_settings(raw, base)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


# --- the schema: every setting, by introspection ------------------------------------------


class SettingField(NamedTuple):
    """One setting: where it lives, its flag, type, default, choices and help.

    Args:
        section: The settings section (``buffer``, ``model``...).
        name: The field name in that section's config class.
        flag: The command-line flag, ``--`` + the name with dashes.
        type: The value type (``int``, ``float``, ``bool``, ``str``); of each item
            when ``multiple``.
        default: The default value (a tuple when ``multiple``).
        choices: The allowed values of a ``Literal`` field, else ``None``.
        help: The field's description, from its class docstring's ``Args:``.
        multiple: A tuple of values (``--horizons 1,5,20``).
        optional: ``None`` is allowed (``null`` in a file, ``none`` as a flag value).
    """

    section: str
    name: str
    flag: str
    type: type
    default: Any
    choices: tuple[Any, ...] | None
    help: str
    multiple: bool = False
    optional: bool = False


def _docstring_args(cls: type) -> dict[str, str]:
    """Parse the ``Args:`` block of a class docstring into ``{name: one-line help}``."""
    doc = typing.cast(str, cls.__doc__ or "")
    lines = doc.expandtabs().splitlines()
    out: dict[str, str] = {}
    inside, current, indent = False, None, None
    for line in lines:
        stripped = line.strip()
        if stripped == "Args:":
            inside = True
            continue
        if not inside:
            continue
        if not stripped:
            current = None
            continue
        width = len(line) - len(line.lstrip())
        match = re.match(r"(\w+)(?: \([^)]*\))?: (.*)", stripped)
        if match and (indent is None or width == indent):
            indent = width
            current = match.group(1)
            out[current] = match.group(2)
        elif current is not None and indent is not None and width > indent:
            out[current] += " " + stripped
        else:
            break
    return {k: re.sub(r"``([^`]*)``", r"\1", v) for k, v in out.items()}


def _describe_type(hint: Any) -> tuple[type, tuple[Any, ...] | None, bool, bool]:
    """Return ``(item type, choices, multiple, optional)`` of a field's type hint."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"unsupported settings type {hint!r}")
        hint = args[0]
        origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        return type(choices[0]), choices, False, optional
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if typing.get_origin(item) is Literal:
            # a list of names (``--groups trend_fft,returns``): a comma-separated flag of
            # strings; the config class checks each name (its help lists them)
            return type(typing.get_args(item)[0]), None, True, optional
        return item, None, True, optional
    if hint in (int, float, bool, str):
        return hint, None, False, optional
    raise TypeError(f"unsupported settings type {hint!r}")


def settings_schema() -> list[SettingField]:
    """Every setting of every section, derived from the config classes.

    Fields come from ``dataclasses.fields`` (in declaration order), types from
    ``typing.get_type_hints`` (``Literal`` gives the choices, ``tuple[int, ...]`` a
    comma-separated flag), help from each class docstring's ``Args:``. Derived fields
    (``model.input_dim``, ``buffer.channel_shape``) are left out.

    Returns:
        One :class:`SettingField` per setting, sections in file order; flags are unique.

    Examples:
        >>> [f.flag for f in settings_schema() if f.section == "buffer"]
        ['--buffer-size', '--step-size']
    """
    out: list[SettingField] = []
    defaults = Settings()  # the pipeline's defaults (features.groups differs from the class's)
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        helps = _docstring_args(cls)
        for f in dataclasses.fields(cls):
            if (section, f.name) in DERIVED:
                continue
            item, choices, multiple, optional = _describe_type(hints[f.name])
            default = getattr(getattr(defaults, section), f.name)
            if f.name not in helps:
                raise TypeError(f"{cls.__name__}.{f.name} has no Args: entry in its docstring")
            out.append(
                SettingField(
                    section=section,
                    name=f.name,
                    flag="--" + f.name.replace("_", "-"),
                    type=item,
                    default=default,
                    choices=choices,
                    help=helps[f.name],
                    multiple=multiple,
                    optional=optional,
                )
            )
    flags = [f.flag for f in out]
    duplicates = sorted({x for x in flags if flags.count(x) > 1})
    assert not duplicates, f"settings flags are not unique: {duplicates}"
    return out


def settings_from_flags(values: dict[str, Any], base: Settings | None = None) -> Settings:
    """Apply flag values over ``base`` (flag > ``--config`` file > default).

    Args:
        values: ``{"section.name": value}``; ``None`` values are flags not given and are
            skipped. Tuples may be given as lists.
        base: Settings to start from (the ``--config`` file's, or defaults).

    Returns:
        The validated settings.

    Raises:
        SettingsError: An unknown ``section.name`` or a bad value.
    """
    raw: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if value is None:
            continue
        section, _, name = key.partition(".")
        raw.setdefault(section, {})[name] = value
    return load_settings(raw, base)


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) if value else "[]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def schema_markdown() -> str:
    """Render :func:`settings_schema` as a Markdown table (the README's parameter reference).

    Returns:
        The table, one row per setting, ending with a newline.
    """
    rows = [
        "| key | flag | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for f in settings_schema():
        kind = " \\| ".join(f"`{c}`" for c in f.choices) if f.choices else f.type.__name__
        if f.multiple:
            kind = f"list of {kind}"
        if f.optional:
            kind += " or null"
        text = f.help.replace("|", "\\|")
        rows.append(
            f"| `{f.section}.{f.name}` | `{f.flag}` | {kind} | `{_cell(f.default)}` | {text} |"
        )
    return "\n".join(rows) + "\n"


def many_runs(settings: Settings) -> Settings:
    """The settings of one of many trainings (a backtest's folds, a search's trials).

    Checkpoints belong to ONE training run (``training.checkpoint_dir`` / ``resume``): the
    folds would overwrite one another's, so they train without them.
    """
    t = settings.training
    if t.checkpoint_dir is None and not t.resume:
        return settings
    training = dataclasses.replace(t, checkpoint_dir=None, resume=False)
    return dataclasses.replace(settings, training=training)
