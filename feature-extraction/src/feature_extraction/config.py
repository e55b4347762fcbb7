"""The configuration of the feature extractor: a frozen, validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

__all__ = [
    "FEATURE_NAMES",
    "GROUPS",
    "GROUP_CHOICES",
    "NORMALIZE_CHOICES",
    "OHLCV",
    "FeatureConfig",
    "FeatureGroup",
    "GroupSpec",
    "Normalize",
]

#: The six features of one channel, in output order (the ``trend_fft`` group).
FEATURE_NAMES: tuple[str, ...] = ("ma", "slope", "slope_std", "freq_idx", "freq_mag", "mean_mag")

#: Columns of an OHLCV sample, in channel order (a buffer with ``channel_shape=(5,)``).
OHLCV: tuple[str, ...] = ("Open", "High", "Low", "Close", "Volume")

#: Column names a covariate cannot take: the candles' own (compared case-insensitively,
#: without spaces and underscores, as a CSV reader matches its headers).
CANDLE_COLUMNS: tuple[str, ...] = (*OHLCV, "Adj Close")

#: Most covariates of one config, and longest covariate name.
MAX_COVARIATES = 64
MAX_COVARIATE_NAME = 64

#: Names of the feature groups.
FeatureGroup = Literal[
    "trend_fft", "returns", "range_vol", "realized_vol", "volume", "technical", "ewma_vol"
]

#: Accepted values of ``groups``' items.
GROUP_CHOICES: tuple[str, ...] = get_args(FeatureGroup)


@dataclass(frozen=True)
class GroupSpec:
    """What one feature group computes and needs.

    Attributes:
        name: The group's name.
        features: Its output names, in order.
        min_window: Fewest candles a window needs (``0``: ``trend_fft``'s own rule,
            ``max(3, window_size + 1)``).
        columns: The candle columns it reads (``("Close",)`` for a close-only group).
        why: The reason of ``min_window``, for error messages.
    """

    name: str
    features: tuple[str, ...]
    min_window: int
    columns: tuple[str, ...] = ("Close",)
    why: str = ""

    @property
    def needs_ohlcv(self) -> bool:
        """Whether the group reads more than the closes."""
        return self.columns != ("Close",)


#: Every group, in the order of ``GROUP_CHOICES``.
GROUPS: dict[str, GroupSpec] = {
    g.name: g
    for g in (
        GroupSpec("trend_fft", FEATURE_NAMES, 0),
        GroupSpec("returns", ("ret_1", "ret_2", "ret_5", "ret_10"), 11, why="lag 10 needs 11"),
        GroupSpec(
            "range_vol",
            ("parkinson", "garman_klass", "rogers_satchell"),
            1,
            ("Open", "High", "Low", "Close"),
        ),
        GroupSpec("realized_vol", ("rv_5", "rv_10", "rv_20"), 21, why="20 log returns"),
        GroupSpec("volume", ("volume_z",), 2, ("Volume",), why="a z-score needs 2 candles"),
        GroupSpec(
            "technical",
            ("rsi_14", "macd", "macd_signal", "bb_pctb"),
            35,
            why="MACD's slow EMA 26 + signal 9",
        ),
        GroupSpec("ewma_vol", ("ewma_vol",), 11, why="10 log returns"),
    )
}

#: Values of ``normalize``: divide by the window's last value, or keep raw prices.
Normalize = Literal["last", "none"]

#: Accepted values of ``normalize`` (``None`` is also accepted and stored as ``"none"``).
NORMALIZE_CHOICES: tuple[str, ...] = get_args(Normalize)


#: Longest moving average (the buffer's own cap on a window).
MAX_WINDOW_SIZE = 1_000_000


def _shown(value: Any) -> str:
    """Show ``value`` in a one-line error message, bounded.

    Scalars by a short ``repr``, huge integers by their size, containers by type and
    length: never the ``repr`` of a whole structure.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {int(value.bit_length() * 0.30103) + 1} digits"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    size = f" of {len(value)}" if isinstance(value, (list, tuple, dict, set, frozenset)) else ""
    return f"a {type(value).__name__}{size}"


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of :class:`~feature_extraction.FeatureExtraction`.

    ``window_size`` is an ``int`` (never a bool or a float such as ``3.0``).

    ``groups`` are computed in the order given; the groups other than ``trend_fft`` are
    scale-free by construction (log returns and ratios), so ``normalize`` changes only
    ``trend_fft``. ``range_vol`` and ``volume`` read OHLCV candles (``needs_ohlcv``):
    their input has 5 channels (Open, High, Low, Close, Volume).

    Args:
        window_size: Length of the moving average, 1 to 1000000.
        normalize: "last" divides each window by its last value before the features are
            taken (they then do not depend on the price level); "none" keeps raw prices
            (the seed's definition; None is accepted and stored as "none").
        groups: Feature groups, comma-separated, in output order, each at most once:
            trend_fft (ma, slope, slope_std, freq_idx, freq_mag, mean_mag), returns (log
            returns at lags 1, 2, 5, 10; windows >= 11), range_vol (Parkinson,
            Garman-Klass, Rogers-Satchell volatility; needs OHLCV), realized_vol (std of
            the last 5, 10, 20 log returns; windows >= 21), volume (z-score of the last
            log volume; needs OHLCV), technical (RSI 14, MACD and signal over price,
            Bollinger %b; windows >= 35), ewma_vol (RiskMetrics EWMA volatility, lambda
            0.94, of the window's log returns; windows >= 11).
        covariates: Extra numeric columns of the candles (a csv:PATH or replay:PATH
            source, or a DataFrame), comma-separated, each at most once; each adds one
            input per step, its value at the window's last candle (not a candle column,
            not a feature name; a missing or NaN value where a window ends is an error).

    Raises:
        ValueError: A field has a bad value; the message starts with the field's name.

    Examples:
        >>> FeatureConfig(window_size=3).min_window
        4
        >>> FeatureConfig(normalize=None).to_dict()
        {'window_size': 5, 'normalize': 'none', 'groups': ['trend_fft']}
        >>> FeatureConfig(groups=("returns", "volume")).n_features(5)
        5
        >>> FeatureConfig(covariates="vix,rate").feature_names()[-3:]
        ['mean_mag', 'vix', 'rate']
    """

    window_size: int = 5
    normalize: Normalize = "last"
    groups: tuple[FeatureGroup, ...] = ("trend_fft",)
    covariates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        size = self.window_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"window_size must be an integer >= 1, got {_shown(size)}")
        if size > MAX_WINDOW_SIZE:
            raise ValueError(f"window_size must be at most {MAX_WINDOW_SIZE}, got {_shown(size)}")
        if self.normalize is None:
            object.__setattr__(self, "normalize", "none")
        if not isinstance(self.normalize, str) or self.normalize not in NORMALIZE_CHOICES:
            raise ValueError(
                f"normalize must be one of {', '.join(NORMALIZE_CHOICES)}, "
                f"got {_shown(self.normalize)}"
            )
        groups = self.groups
        if isinstance(groups, str):
            groups = tuple(g.strip() for g in groups.split(",") if g.strip())
        if not isinstance(groups, (list, tuple)) or not groups:
            raise ValueError(
                f"groups must be a non-empty list of {', '.join(GROUP_CHOICES)}, "
                f"got {_shown(groups)}"
            )
        if len(groups) > len(GROUP_CHOICES):
            raise ValueError(f"groups must name each group at most once, got {len(groups)} of them")
        seen: list[str] = []
        for g in groups:
            if not isinstance(g, str) or g not in GROUP_CHOICES:
                raise ValueError(
                    f"groups must be among {', '.join(GROUP_CHOICES)}, got {_shown(g)} in it"
                )
            if g in seen:
                raise ValueError(f"groups names {g!r} twice")
            seen.append(g)
        object.__setattr__(self, "groups", tuple(seen))
        object.__setattr__(self, "covariates", _check_covariates(self.covariates))

    @property
    def group_specs(self) -> tuple[GroupSpec, ...]:
        """The selected groups' :class:`GroupSpec`, in output order."""
        return tuple(GROUPS[g] for g in self.groups)

    @property
    def needs_ohlcv(self) -> bool:
        """Whether a selected group reads Open/High/Low/Volume (input of 5 channels)."""
        return any(g.needs_ohlcv for g in self.group_specs)

    @property
    def channel_shape(self) -> tuple[int, ...]:
        """Shape of one input sample: ``(5,)`` (OHLCV) when ``needs_ohlcv``, else ``(1,)``."""
        return (len(OHLCV),) if self.needs_ohlcv else (1,)

    @property
    def columns(self) -> tuple[str, ...]:
        """The candle columns the selected groups read, in OHLCV order."""
        used = {c for g in self.group_specs for c in g.columns}
        return tuple(c for c in OHLCV if c in used)

    def group_min_window(self, group: str) -> int:
        """Fewest candles a window needs for ``group`` (``trend_fft``: ``max(3, w + 1)``)."""
        need = GROUPS[group].min_window
        return need if need else max(3, self.window_size + 1)

    @property
    def min_window(self) -> int:
        """Fewest points a window needs: the largest need of the selected groups.

        ``trend_fft`` needs ``max(3, window_size + 1)``: the moving average of a window of
        ``B`` points has ``B - window_size + 1`` values, and its gradient needs at least
        two of them. ``returns`` and ``ewma_vol`` need 11, ``realized_vol`` 21,
        ``technical`` 35, ``volume`` 2, ``range_vol`` 1.
        """
        return max(self.group_min_window(g) for g in self.groups)

    def check_window(self, length: int, what: str = "window") -> None:
        """Raise a one-line ``ValueError`` when ``length`` candles are too few a window.

        Args:
            length: Candles per window (the buffer size).
            what: How the message names the window.

        Raises:
            ValueError: ``length`` is below :attr:`min_window`, naming the group.
        """
        for g in self.groups:
            need = self.group_min_window(g)
            if length < need:
                if g == "trend_fft":
                    raise ValueError(
                        f"{what} of {length} points is too short: window_size="
                        f"{self.window_size} needs at least {need} points"
                    )
                raise ValueError(
                    f"{what} of {length} points is too short: group {g} needs at least "
                    f"{need} points ({GROUPS[g].why})"
                )

    def feature_names(self, channels: int = 1) -> list[str]:
        """Return the output names, in order (``ch1_slope``... for several channels).

        With OHLCV groups the input is one OHLCV series (``channels`` must be 5); else
        each of the ``channels`` price series gets every group, channel-major.

        Args:
            channels: Channels of the input.

        Returns:
            ``n_features(channels)`` names.

        Raises:
            ValueError: OHLCV groups with an input that is not 5 channels.
        """
        names = [n for g in self.group_specs for n in g.features]
        if self.needs_ohlcv:
            self._check_ohlcv_channels(channels)
        elif channels != 1:
            names = [f"ch{c}_{name}" for c in range(channels) for name in names]
        return names + list(self.covariates)

    def _check_ohlcv_channels(self, channels: int) -> None:
        if channels != len(OHLCV):
            needing = ", ".join(g.name for g in self.group_specs if g.needs_ohlcv)
            raise ValueError(
                f"groups {needing} need OHLCV candles (5 channels: Open, High, Low, Close, "
                f"Volume), got {_shown(channels)} channel(s)"
            )

    def n_features(self, channels: int = 1) -> int:
        """Features of a window with ``channels`` channels.

        The sum of the groups' sizes (``6`` for the default ``trend_fft``), times
        ``channels`` for close-only groups; with OHLCV groups ``channels`` must be 5
        and the count is the sum; plus one per covariate.

        Raises:
            ValueError: OHLCV groups with an input that is not 5 channels.
        """
        per = sum(len(g.features) for g in self.group_specs)
        if self.needs_ohlcv:
            self._check_ohlcv_channels(channels)
        else:
            per *= channels
        return per + len(self.covariates)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``FeatureConfig.from_dict`` rebuilds it).

        ``covariates`` is left out when there are none (the dict, and the model files that
        record it, stay what they were before covariates existed).
        """
        out = asdict(self)
        out["groups"] = list(self.groups)
        if self.covariates:
            out["covariates"] = list(self.covariates)
        else:
            del out["covariates"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Build a config from a mapping of field names (strict: no other container or key).

        Args:
            data: Field names to values (missing ones keep their defaults).

        Returns:
            The validated config.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        if not isinstance(data, dict):
            raise ValueError(
                f"FeatureConfig needs a mapping of field names, got {type(data).__name__}"
            )
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            shown = sorted(
                k if isinstance(k, str) and k.isprintable() and len(k) <= 40 else _shown(k)
                for k in unknown[:1000]
            )
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ValueError(
                f"unknown FeatureConfig field(s): {', '.join(shown[:5])}{more} "
                f"(known: {', '.join(names)})"
            )
        return cls(**data)


def _key(name: str) -> str:
    """A column name as a CSV reader matches it: lower case, no spaces, ``_``, ``.``, ``-``."""
    return "".join(ch for ch in name.lower() if ch not in " _.-")


_RESERVED = {_key(c): c for c in CANDLE_COLUMNS}
_FEATURES = {n for g in GROUPS.values() for n in g.features}


def _check_covariates(value: Any) -> tuple[str, ...]:
    """``covariates`` as a tuple of names, or a one-line ``ValueError``."""
    if isinstance(value, str):
        value = tuple(c.strip() for c in value.split(",") if c.strip())
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"covariates must be a list of column names, got {_shown(value)}")
    if len(value) > MAX_COVARIATES:
        raise ValueError(f"covariates must be at most {MAX_COVARIATES} columns, got {len(value)}")
    seen: list[str] = []
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"covariates must be non-empty column names, got {_shown(name)} in it")
        if len(name) > MAX_COVARIATE_NAME or not name.isprintable():
            raise ValueError(
                f"covariates must be printable names of at most {MAX_COVARIATE_NAME} "
                f"characters, got {_shown(name)} in it"
            )
        if name != name.strip():
            raise ValueError(f"covariates: {name!r} has leading or trailing spaces")
        if _key(name) in _RESERVED:
            raise ValueError(
                f"covariates: {name!r} is the candle column {_RESERVED[_key(name)]}, not an "
                "extra column (the feature groups read the candles)"
            )
        if name in _FEATURES:
            raise ValueError(f"covariates: {name!r} is the name of a feature; rename the column")
        if name in seen:
            raise ValueError(f"covariates names {name!r} twice")
        seen.append(name)
    return tuple(seen)
