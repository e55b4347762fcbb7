"""The configurations of the model package: the network and one training run.

``ModelConfig`` and ``TrainConfig`` are torch-free, so settings can be read and validated
without importing torch.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, TypeVar

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "HEADS",
    "LR_SCHEDULES",
    "EnsembleConfig",
    "ModelConfig",
    "Seq2SeqConfig",
    "TrainConfig",
    "TreeConfig",
]

#: Default mini-batch size, chosen by measurement on a 2-core CPU (see the README).
DEFAULT_BATCH_SIZE = 256

_C = TypeVar("_C")

#: Learning-rate schedules of ``TrainConfig.lr_schedule``.
LrSchedule = Literal["plateau", "cosine", "warmup_cosine"]
LR_SCHEDULES: tuple[str, ...] = typing.get_args(LrSchedule)

#: Output heads of ``ModelConfig.heads`` (``"return"`` is always there).
HEADS: tuple[str, ...] = ("return", "direction", "trend")


class _DictConfig:
    """``to_dict``/``from_dict`` of the frozen configs (tuples are written as lists)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``from_dict`` rebuilds the config)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
        """Build a config from ``to_dict`` output (strict: known field names only).

        Args:
            data: Field names to values (missing ones keep their defaults).

        Returns:
            The validated config.

        Raises:
            ValueError: Not a mapping, an unknown key or a bad value.
        """
        return _from_dict(cls, data)


def _from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
    """Build ``cls`` from a mapping of field names (strict: no other container, no other key).

    Lists become tuples (``to_dict`` writes tuples as lists); the class validates values.
    """
    name = cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{name} needs a mapping of field names, got {type(data).__name__}")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in data if k not in names]
    if unknown:
        shown = sorted(
            k if isinstance(k, str) and k.isprintable() and len(k) <= 40 else _shown(k)
            for k in unknown[:1000]
        )
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(
            f"unknown {name} field(s): {', '.join(shown[:5])}{more} (known: {', '.join(names)})"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


#: Largest seed: torch seeds are 64-bit; the signed range keeps every backend happy.
MAX_SEED = 2**63 - 1


def _shown(value: Any) -> str:
    """Show ``value`` in a one-line error message, bounded.

    Scalars by a short ``repr``, huge integers by their size, containers by type and
    length: never the ``repr`` of a whole structure. (The lower packages cannot import
    ``finance_demo.config.excerpt``; the offending item of a tuple is shown instead.)
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {int(value.bit_length() * 0.30103) + 1} digits"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    size = f" of {len(value)}" if isinstance(value, (list, tuple, dict, set, frozenset)) else ""
    return f"a {type(value).__name__}{size}"


def check_level(level: float) -> float:
    """Validate an interval level.

    Args:
        level: Nominal coverage, strictly between 0 and 1.

    Returns:
        ``level`` as a float.

    Raises:
        ValueError: ``level`` outside ``(0, 1)``.
    """
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    return float(level)


def _positive_int(name: str, value: Any, cap: int) -> int:
    """The integer rule: an ``int`` (not bool, not a float such as ``3.0``) in ``[1, cap]``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {_shown(value)}")
    if value > cap:
        raise ValueError(f"{name} must be at most {cap}, got {_shown(value)}")
    return value


def _finite(name: str, value: Any) -> float:
    """The number rule: an int or float (not bool) that is finite (no nan, inf, -inf)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, int) and value.bit_length() > 64)
        or not math.isfinite(value)
    ):
        raise ValueError(f"{name} must be a finite number, got {_shown(value)}")
    return float(value)


#: Most LSTM weights a ModelConfig may ask for (200 MB of float32, before Adam's state).
MAX_LSTM_PARAMETERS = 50_000_000


@dataclass(frozen=True)
class ModelConfig(_DictConfig):
    """Architecture of the network: LSTM, last timestep (or attention), two heads.

    Integer fields take an ``int`` (never a bool, never a float such as ``3.0``: a YAML
    ``3.0`` is refused rather than silently truncated); float fields take an int or a
    float that is finite (``.nan``, ``.inf``, ``-.inf`` are refused). Sizes are capped
    and the LSTM (plus attention) may have at most ``MAX_LSTM_PARAMETERS`` (50 million)
    weights in all.

    Args:
        input_dim: Features per timestep, 1 to 65536.
        seq_len: Timesteps (feature vectors) per input sequence the model is trained on,
            1 to 100000.
        hidden_dim: LSTM hidden size (per direction), 1 to 8192.
        num_layers: Stacked LSTM layers, 1 to 64.
        dropout: Dropout between LSTM layers and before the heads, in ``[0, 1)``.
        bidirectional: Run the LSTM in both directions.
        attention: Multi-head attention over the LSTM outputs, with the query taken from
            the last timestep's output, instead of the last timestep alone.
        num_heads: Attention heads, 1 to 256; must divide ``hidden_dim * directions``.
        horizons: Forecast horizons in ticks (one mean and one variance output each),
            strictly increasing positive integers, each at most 100000, at most 64 of them.
        skip: Add a linear path from the last timestep's inputs to both heads (an
            LSTNet-style highway), so mean and log-variance can extrapolate linearly beyond
            the training range where the saturating LSTM cannot.
        head_hidden: Widths of hidden layers (ReLU) between the LSTM's output and the
            heads, e.g. ``[64, 32]``; empty (default): the heads are one linear layer.
            At most 8 layers, each 1 to 8192 wide.
        layer_norm: Layer-normalize the LSTM's output (after attention) before the heads.
        heads: Output heads: ``"return"`` (mean and log-variance per horizon, always
            there) and optionally ``"direction"`` (a logit of P(return > 0) per horizon,
            trained with binary cross-entropy) and ``"trend"`` (a score in [-1, 1] per
            horizon: ``tanh`` of the network's output, trained with squared error
            against ``tanh(y / s)``, ``y`` the horizon's log return and ``s`` its
            standard deviation over the training rows: the sign and strength of the
            move over that horizon). LSTM kind only. Each at most once; a model file
            without this field loads as ``["return"]``.
        sigma_anchor: Blend the predicted sigma with a volatility the features already
            carry: ``"auto"`` (default: the ``ewma_vol`` feature when the features
            have it, else none), ``"none"``, or a feature name (``ewma_vol``, ``rv_5``,
            ``rv_10``, ``rv_20``, ``parkinson``, ``garman_klass``, ``rogers_satchell``).
            The sigma of horizon ``h`` is then the geometric mean ``sqrt(sigma_model *
            v * sqrt(h))`` of the model's and the feature's ``v``
            (at the sequence's last step), before the conformal calibration: an
            equal-weight combination of two volatility forecasts, chosen by the
            walk-forward evidence in docs/ablation.md.
        sigma_anchor_index: The anchor's position in the feature vector; derived from
            ``sigma_anchor`` and the features by the pipeline (``None``: no blend).

    Examples:
        >>> ModelConfig(hidden_dim=16, horizons=(1, 5)).n_outputs
        2
        >>> ModelConfig(dropout=1.5)
        Traceback (most recent call last):
        ...
        ValueError: dropout must be in [0, 1), got 1.5
    """

    input_dim: int = 6
    seq_len: int = 20
    hidden_dim: int = 32
    num_layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    attention: bool = False
    num_heads: int = 4
    horizons: tuple[int, ...] = (1,)
    skip: bool = False
    head_hidden: tuple[int, ...] = ()
    layer_norm: bool = False
    heads: tuple[str, ...] = ("return",)
    sigma_anchor: str = "auto"
    sigma_anchor_index: int | None = None

    def __post_init__(self) -> None:
        for name, cap in self._CAPS.items():
            _positive_int(name, getattr(self, name), cap)
        if not 0.0 <= _finite("dropout", self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {_shown(self.dropout)}")
        object.__setattr__(self, "head_hidden", self._check_head_hidden(self.head_hidden))
        for name in ("bidirectional", "attention", "skip", "layer_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {_shown(getattr(self, name))}")
        object.__setattr__(self, "horizons", self._check_horizons(self.horizons))
        object.__setattr__(self, "heads", self._check_heads(self.heads))
        anchor = self.sigma_anchor
        if anchor is None:  # what a YAML null or the CLI's "none" reads as
            object.__setattr__(self, "sigma_anchor", anchor := "none")
        if not isinstance(anchor, str) or not anchor.strip():
            raise ValueError(
                f"sigma_anchor must be auto, none or a volatility feature's name, "
                f"got {_shown(anchor)}"
            )
        index = self.sigma_anchor_index
        if index is not None and (
            isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.input_dim
        ):
            raise ValueError(
                f"sigma_anchor_index must be a feature position in [0, {self.input_dim}) "
                f"or null, got {_shown(index)}"
            )
        if self.attention and self.feature_dim % self.num_heads:
            raise ValueError(
                f"num_heads ({self.num_heads}) must divide hidden_dim * directions "
                f"({self.feature_dim})"
            )
        if self.n_weights > MAX_LSTM_PARAMETERS:
            raise ValueError(
                f"the network would have {self.n_weights} LSTM/attention weights, more than "
                f"{MAX_LSTM_PARAMETERS}: lower hidden_dim or num_layers"
            )

    @property
    def n_weights(self) -> int:
        """Weights of the LSTM (all layers and directions) and of the attention, if any."""
        h, d = self.hidden_dim, self.directions
        total = 0
        for layer in range(self.num_layers):
            inputs = self.input_dim if layer == 0 else h * d
            total += d * (4 * h * (inputs + h) + 8 * h)
        if self.attention:
            total += 4 * self.feature_dim * (self.feature_dim + 1)
        return total

    #: Upper caps of the integer sizes (see the class docstring).
    _CAPS: typing.ClassVar[dict[str, int]] = {
        "input_dim": 65_536,
        "seq_len": 100_000,
        "hidden_dim": 8192,
        "num_layers": 64,
        "num_heads": 256,
    }

    @staticmethod
    def _check_head_hidden(value: Any) -> tuple[int, ...]:
        words = "head_hidden must be a list of layer widths (integers 1 to 8192)"
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{words}, got {_shown(value)}")
        if len(value) > 8:
            raise ValueError(f"head_hidden must be at most 8 layers, got {len(value)}")
        for i, w in enumerate(value):
            if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 8192:
                raise ValueError(f"{words}, got {_shown(w)} at position {i}")
        return tuple(value)

    @staticmethod
    def _check_heads(value: Any) -> tuple[str, ...]:
        words = f"heads must be a list of output heads ({', '.join(HEADS)})"
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{words}, got {_shown(value)}")
        for i, head in enumerate(value):
            if not isinstance(head, str) or head not in HEADS:
                raise ValueError(f"{words}, got {_shown(head)} at position {i}")
            if head in value[:i]:
                raise ValueError(f"heads must not repeat a head, got {head!r} twice")
        if "return" not in value:
            raise ValueError("heads must include 'return' (the mean and variance head)")
        return tuple(value)

    @property
    def has_direction(self) -> bool:
        """Whether the network has the direction head (``"direction"`` in ``heads``)."""
        return "direction" in self.heads

    @property
    def has_trend(self) -> bool:
        """Whether the network has the trend head (``"trend"`` in ``heads``)."""
        return "trend" in self.heads

    @property
    def extra_heads(self) -> tuple[str, ...]:
        """The heads beside ``"return"``, in the fixed order ``direction``, ``trend``."""
        return tuple(h for h in HEADS[1:] if h in self.heads)

    @staticmethod
    def _check_horizons(value: Any) -> tuple[int, ...]:
        words = "horizons must be strictly increasing positive integers"
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{words}, got {_shown(value)}")
        if not value:
            raise ValueError(f"{words}, got an empty list")
        if len(value) > 64:
            raise ValueError(f"horizons must be at most 64 values, got {len(value)}")
        for i, h in enumerate(value):
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"{words}, got {_shown(h)} at position {i}")
            if h > 100_000:
                raise ValueError(f"each horizon must be at most 100000, got {_shown(h)}")
            if i and h <= value[i - 1]:
                raise ValueError(f"{words}, got {h} after {value[i - 1]} at position {i}")
        return tuple(value)

    @property
    def directions(self) -> int:
        """Number of LSTM directions (1 or 2)."""
        return 2 if self.bidirectional else 1

    @property
    def feature_dim(self) -> int:
        """Width of the LSTM output that feeds the heads."""
        return self.hidden_dim * self.directions

    @property
    def n_outputs(self) -> int:
        """Number of horizons, i.e. mean outputs (and as many log-variance outputs)."""
        return len(self.horizons)


@dataclass(frozen=True)
class TrainConfig(_DictConfig):
    """Settings of one training run (see ``Model.train``).

    Integer fields take an ``int`` (never a bool or a float such as ``3.0``); float
    fields take a finite int or float (``.nan``, ``.inf``, ``-.inf`` are refused).

    Args:
        epochs: Maximum number of passes over the training part, 1 to 1000000.
        batch_size: Samples per optimizer step, 1 to 10000000.
        lr: Initial Adam learning rate (> 0).
        weight_decay: Adam weight decay (L2, >= 0).
        val_fraction: Share of the samples used for validation, in (0, 1): the last part
            of the (time-ordered) data when no explicit validation set is given.
        patience: Epochs without a better validation loss before stopping; with the
            plateau schedule the learning rate halves after max(1, patience // 3) such
            epochs; 1 to 1000000.
        min_delta: A validation loss counts as better only when it is below the best so
            far by more than this (>= 0; early stopping and the plateau schedule).
        lr_schedule: plateau (halve on a validation plateau), cosine (from lr down to
            0 over the epochs, per epoch) or warmup_cosine (linear warm-up over
            warmup_epochs, then cosine).
        warmup_epochs: Epochs of linear warm-up for warmup_cosine, 0 to 1000000.
        checkpoint_dir: Write the whole training state (weights, optimizer, schedule,
            random generators, history) to checkpoint_dir/checkpoint.pt after every epoch
            (atomically); null: no checkpoints.
        resume: Continue from the checkpoint in checkpoint_dir, bit for bit where the
            interrupted run stopped (same data and settings; refused otherwise).
        seed: Seed of the weight initialization, dropout and batch shuffling, in
            [0, 2**63 - 1].
        grad_clip: Maximum gradient norm (0 disables clipping).
        beta: Exponent of beta-NLL (Seitzer et al., 2022), in [0, 1]: each sample's
            Gaussian NLL is weighted by stopgrad(var) ** beta; 0 is the plain NLL.
        num_threads: Torch intra-op threads while training (null keeps the current
            setting; restored afterwards), 1 to 1024. 1 by measurement: on a busy 2-core
            machine two threads made some epochs 30x slower.
        direction_weight: Weight ``w`` of the direction head's binary cross-entropy in
            the loss ``NLL + w * BCE`` (>= 0; unused without the head; 0 leaves the
            return head's training unchanged).
        trend_weight: Weight ``v`` of the trend head's mean squared error in the loss
            ``NLL + w * BCE + v * MSE`` (>= 0; unused without the head; 0 leaves the
            other heads' training unchanged).

    Examples:
        >>> TrainConfig(epochs=5).batch_size
        256
        >>> TrainConfig(lr=0)
        Traceback (most recent call last):
        ...
        ValueError: lr must be a positive number, got 0
    """

    epochs: int = 20
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float = 3e-3
    weight_decay: float = 1e-5
    val_fraction: float = 0.15
    patience: int = 5
    min_delta: float = 0.0
    lr_schedule: LrSchedule = "plateau"
    warmup_epochs: int = 2
    checkpoint_dir: str | None = None
    resume: bool = False
    seed: int = 0
    grad_clip: float = 1.0
    beta: float = 0.5
    num_threads: int | None = 1
    direction_weight: float = 1.0
    trend_weight: float = 1.0

    def __post_init__(self) -> None:
        for name, cap in (
            ("epochs", 1_000_000),
            ("batch_size", 10_000_000),
            ("patience", 1_000_000),
        ):
            _positive_int(name, getattr(self, name), cap)
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {_shown(seed)}")
        if self.num_threads is not None:
            _positive_int("num_threads", self.num_threads, 1024)
        if not isinstance(self.lr_schedule, str) or self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                f"got {_shown(self.lr_schedule)}"
            )
        if self.checkpoint_dir is not None and (
            not isinstance(self.checkpoint_dir, str) or not self.checkpoint_dir.strip()
        ):
            raise ValueError(
                f"checkpoint_dir must be a directory path, got {_shown(self.checkpoint_dir)}"
            )
        if not isinstance(self.resume, bool):
            raise ValueError(f"resume must be true or false, got {_shown(self.resume)}")
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume needs a checkpoint_dir to resume from")
        w = self.warmup_epochs
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 1_000_000:
            raise ValueError(f"warmup_epochs must be an integer in [0, 1000000], got {_shown(w)}")
        checks = {
            "lr": (lambda v: v > 0, "a positive number"),
            "weight_decay": (lambda v: v >= 0, "a non-negative number"),
            "val_fraction": (lambda v: 0 < v < 1, "strictly between 0 and 1"),
            "grad_clip": (lambda v: v >= 0, "a non-negative number"),
            "min_delta": (lambda v: v >= 0, "a non-negative number"),
            "beta": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "direction_weight": (lambda v: v >= 0, "a non-negative number"),
            "trend_weight": (lambda v: v >= 0, "a non-negative number"),
        }
        for name, (ok, words) in checks.items():
            value = getattr(self, name)
            try:
                good = ok(_finite(name, value))
            except ValueError:
                good = False
            if not good:
                raise ValueError(f"{name} must be {words}, got {_shown(value)}")


def _unit(name: str, value: Any, low_open: bool = True) -> float:
    """A finite number in ``(0, 1]`` (or ``[0, 1]`` with ``low_open=False``)."""
    v = _finite(name, value)
    if not ((0 < v) if low_open else (0 <= v)) or v > 1:
        bounds = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {bounds}, got {_shown(value)}")
    return v


@dataclass(frozen=True)
class TreeConfig(_DictConfig):
    """LightGBM settings of a tree forecaster (``kind`` ``"gbdt"`` or ``"rf"``).

    The trees see the last ``seq_len`` feature vectors flattened (``seq_len * input_dim``
    columns); one booster per horizon forecasts the mean, a second one the absolute
    residual (the interval's scale). Integer fields take an ``int``, float fields a finite
    number; the caps bound what a model file may claim (at most ``n_estimators *
    num_leaves`` = 2**24 leaves per booster).

    Args:
        num_leaves: Leaves per tree, 2 to 65536.
        n_estimators: Boosting rounds (trees per booster) at most, 1 to 100000.
        learning_rate: Shrinkage per round, in (0, 1] (ignored by the random forest).
        min_child_samples: Fewest samples in a leaf, 1 to 1000000.
        feature_fraction: Share of the columns each tree may split on, in (0, 1].
        bagging_fraction: Share of the rows each tree is grown on, in (0, 1]; below 1
            rows are re-drawn every round; the random forest needs it below 1.
        early_stopping_rounds: Rounds without a better validation loss before boosting
            stops (the best round is kept), 1 to 100000.
        seed: Seed of LightGBM's row and column sampling, in [0, 2**31 - 1].
        max_bin: Histogram bins per feature (LightGBM's ``max_bin``), 2 to 1023. The
            default 63 (LightGBM's own is 255) boosts about twice as fast; on the four
            shipped samples' 10-fold walk-forward backtests its MAE skill, coverage and
            Winkler loss were within the seed-to-seed spread of 255's
            (``docs/model-comparison.md``).

    Examples:
        >>> TreeConfig(num_leaves=15).n_estimators
        200
        >>> TreeConfig(num_leaves=1)
        Traceback (most recent call last):
        ...
        ValueError: num_leaves must be at least 2, got 1
    """

    num_leaves: int = 31
    n_estimators: int = 200
    learning_rate: float = 0.05
    min_child_samples: int = 20
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    early_stopping_rounds: int = 20
    seed: int = 0
    max_bin: int = 63

    #: Most leaves (n_estimators * num_leaves) one booster may have.
    MAX_LEAVES: typing.ClassVar[int] = 1 << 24

    def __post_init__(self) -> None:
        _positive_int("num_leaves", self.num_leaves, 65_536)
        if self.num_leaves < 2:
            raise ValueError(f"num_leaves must be at least 2, got {_shown(self.num_leaves)}")
        _positive_int("n_estimators", self.n_estimators, 100_000)
        _positive_int("min_child_samples", self.min_child_samples, 1_000_000)
        _positive_int("early_stopping_rounds", self.early_stopping_rounds, 100_000)
        _positive_int("max_bin", self.max_bin, 1023)
        if self.max_bin < 2:
            raise ValueError(f"max_bin must be at least 2, got {_shown(self.max_bin)}")
        for name in ("learning_rate", "feature_fraction", "bagging_fraction"):
            _unit(name, getattr(self, name))
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2**31 - 1], got {_shown(seed)}")
        if self.n_estimators * self.num_leaves > self.MAX_LEAVES:
            raise ValueError(
                f"n_estimators * num_leaves must be at most {self.MAX_LEAVES}, got "
                f"{self.n_estimators * self.num_leaves}"
            )


@dataclass(frozen=True)
class Seq2SeqConfig(_DictConfig):
    """The seq2seq forecaster's own settings (its sizes come from ``ModelConfig``).

    An LSTM encoder reads the sequence; an LSTM decoder emits one step per horizon index,
    attending over the encoder outputs. While training, the decoder's input at step ``k``
    is the true target of step ``k - 1`` with the teacher-forcing probability, which
    falls linearly from ``teacher_forcing_start`` (first epoch) to ``teacher_forcing_end``
    (last epoch); at inference it is the decoder's own previous mean.

    Args:
        teacher_forcing_start: Teacher-forcing probability at the first epoch, in [0, 1].
        teacher_forcing_end: Teacher-forcing probability at the last epoch, in [0, 1].
        attention: Attention over the encoder outputs: additive (Bahdanau) or dot (Luong).

    Examples:
        >>> Seq2SeqConfig().attention
        'additive'
        >>> Seq2SeqConfig(attention="cosine")
        Traceback (most recent call last):
        ...
        ValueError: attention must be 'additive' or 'dot', got 'cosine'
    """

    teacher_forcing_start: float = 1.0
    teacher_forcing_end: float = 0.0
    attention: str = "additive"

    def __post_init__(self) -> None:
        for name in ("teacher_forcing_start", "teacher_forcing_end"):
            _unit(name, getattr(self, name), low_open=False)
        if self.attention not in ("additive", "dot"):
            raise ValueError(f"attention must be 'additive' or 'dot', got {_shown(self.attention)}")

    def teacher_forcing(self, epoch: int, epochs: int) -> float:
        """The teacher-forcing probability of a (1-based) epoch out of ``epochs``.

        Args:
            epoch: The epoch, 1 to ``epochs``.
            epochs: The run's epochs.

        Returns:
            The linearly interpolated ratio.
        """
        t = 0.0 if epochs <= 1 else (epoch - 1) / (epochs - 1)
        return self.teacher_forcing_start + t * (
            self.teacher_forcing_end - self.teacher_forcing_start
        )


#: Most members an ensemble may have.
MAX_MEMBERS = 64


@dataclass(frozen=True)
class EnsembleConfig(_DictConfig):
    """How an ensemble blends its members' forecasts.

    Args:
        weighting: ``fixed`` (the ``weights`` as given) or ``adaptive`` (each member's
            weight proportional to the inverse of its mean absolute error over the last
            ``window`` realized outcomes, fed by ``update``/``observe``; the fixed weights
            until an outcome arrives).
        weights: One non-negative weight per member (normalized to sum 1), or null for
            equal weights.
        window: Realized outcomes the adaptive weights look back on, 1 to 1000000.

    Examples:
        >>> EnsembleConfig(weights=(1, 3)).normalized(2)
        (0.25, 0.75)
        >>> EnsembleConfig(weighting="best")
        Traceback (most recent call last):
        ...
        ValueError: weighting must be 'fixed' or 'adaptive', got 'best'
    """

    weighting: str = "fixed"
    weights: tuple[float, ...] | None = None
    window: int = 250

    def __post_init__(self) -> None:
        if self.weighting not in ("fixed", "adaptive"):
            raise ValueError(
                f"weighting must be 'fixed' or 'adaptive', got {_shown(self.weighting)}"
            )
        _positive_int("window", self.window, 1_000_000)
        if self.weights is not None:
            w = self.weights
            if not isinstance(w, (list, tuple)) or not 1 <= len(w) <= MAX_MEMBERS:
                raise ValueError(
                    f"weights must be a list of 1 to {MAX_MEMBERS} numbers, got {_shown(w)}"
                )
            values = tuple(_finite(f"weights[{i}]", v) for i, v in enumerate(w))
            if any(v < 0 for v in values) or sum(values) <= 0:
                raise ValueError("weights must be non-negative with a positive sum")
            object.__setattr__(self, "weights", values)

    def normalized(self, n: int) -> tuple[float, ...]:
        """The fixed weights of ``n`` members, summing to 1.

        Args:
            n: The number of members.

        Returns:
            ``n`` weights.

        Raises:
            ValueError: ``weights`` has another length.
        """
        if self.weights is None:
            return tuple(1.0 / n for _ in range(n))
        if len(self.weights) != n:
            raise ValueError(f"weights has {len(self.weights)} values for {n} members")
        total = sum(self.weights)
        return tuple(v / total for v in self.weights)
