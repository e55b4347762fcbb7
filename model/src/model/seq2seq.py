"""``Seq2SeqForecaster`` (kind ``"seq2seq"``): LSTM encoder, attentive LSTM decoder.

The encoder (``nn.LSTM``, optionally bidirectional) reads the sequence; the decoder (an
``nn.LSTM`` run one step at a time) emits one step per horizon index, its input being the
previous step's (scaled) value and the previous attention context (input feeding). At each
step the decoder's output queries the encoder outputs (additive or dot attention); the
output and the context go through a layer norm to a linear head giving a mean and a
log-variance. Training: teacher forcing with a probability that falls linearly over the
epochs (``Seq2SeqConfig``), Gaussian (beta-)NLL like the LSTM, gradient clipping, early
stopping (``model.training.fit``). Inference decodes autoregressively from the decoder's
own means. Intervals: normalized split conformal on the validation part.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from model.base import ForecasterBase, kind_config_field, read_checked, unexpected_keys
from model.config import ModelConfig, Seq2SeqConfig, TrainConfig
from model.core import _training_context
from model.errors import ModelFileError
from model.fileformat import ModelHeader, excerpt
from model.network import LOGVAR_MAX, LOGVAR_MIN
from model.persistence import NET_PREFIX, net_tensors
from model.scaling import Standardizer
from model.training import fit as fit_network

__all__ = ["Seq2SeqForecaster", "Seq2SeqNetwork"]

_CHUNK = 8192


class Seq2SeqNetwork(nn.Module):
    """Encoder-decoder LSTM with attention; ``forward`` gives ``(mean, logvar)`` ``(B, H)``.

    Uses ``input_dim``, ``hidden_dim``, ``num_layers``, ``dropout``, ``bidirectional`` and
    ``horizons`` of the ``ModelConfig`` (not ``attention``, ``num_heads``, ``skip``).

    Args:
        config: The sizes.
        seq2seq: The attention kind (and teacher forcing, used by the trainer).

    Examples:
        >>> net = Seq2SeqNetwork(ModelConfig(hidden_dim=8, horizons=(1, 5)), Seq2SeqConfig())
        >>> mean, logvar = net(torch.zeros(3, 10, 6))
        >>> tuple(mean.shape), tuple(logvar.shape)
        ((3, 2), (3, 2))
    """

    def __init__(self, config: ModelConfig, seq2seq: Seq2SeqConfig) -> None:
        super().__init__()
        self.config, self.seq2seq = config, seq2seq
        h, width = config.hidden_dim, config.feature_dim
        drop = config.dropout if config.num_layers > 1 else 0.0
        self.encoder = nn.LSTM(
            config.input_dim,
            h,
            config.num_layers,
            batch_first=True,
            dropout=drop,
            bidirectional=config.bidirectional,
        )
        self.decoder = nn.LSTM(1 + width, h, config.num_layers, batch_first=True, dropout=drop)
        # both directions' final states -> the decoder's initial state
        self.bridge = nn.Linear(width, 2 * h) if config.bidirectional else None
        if seq2seq.attention == "additive":
            self.key = nn.Linear(width, h, bias=False)
            self.query = nn.Linear(h, h)
            self.score = nn.Linear(h, 1, bias=False)
        else:
            self.key = None
            self.query = nn.Linear(h, width, bias=False)
            self.score = None
        self.norm = nn.LayerNorm(h + width)
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.head = nn.Linear(h + width, 2)

    def _initial_state(self, hn: torch.Tensor, cn: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.bridge is None:
            return hn, cn
        layers, batch, h = self.config.num_layers, hn.shape[1], self.config.hidden_dim
        both = torch.cat(
            (hn.view(layers, 2, batch, h)[:, 0], hn.view(layers, 2, batch, h)[:, 1]), dim=2
        )
        z = torch.tanh(self.bridge(both))
        return z[..., :h].contiguous(), z[..., h:].contiguous()

    def _attend(
        self, query: torch.Tensor, outputs: torch.Tensor, keys: torch.Tensor | None
    ) -> torch.Tensor:
        """Context ``(B, width)`` of one decoder output ``(B, h)`` over ``(B, L, width)``."""
        if self.score is not None:
            scores = self.score(torch.tanh(keys + self.query(query).unsqueeze(1))).squeeze(2)
        else:
            scores = torch.bmm(outputs, self.query(query).unsqueeze(2)).squeeze(2)
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1)

    def forward(
        self,
        x: torch.Tensor,
        targets: torch.Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``x``, decode one step per horizon.

        Args:
            x: ``(B, L, input_dim)`` scaled features.
            targets: ``(B, H)`` scaled targets (training only), fed back as the next
                step's input with probability ``teacher_forcing`` (per sample and step).
            teacher_forcing: That probability, in ``[0, 1]``.

        Returns:
            ``(mean, logvar)``, each ``(B, H)``.
        """
        outputs, (hn, cn) = self.encoder(x)
        state = self._initial_state(hn, cn)
        keys = self.key(outputs) if self.key is not None else None
        batch = x.shape[0]
        previous = x.new_zeros(batch, 1)
        context = outputs.mean(dim=1)
        means, logvars = [], []
        for step in range(self.config.n_outputs):
            inputs = torch.cat((previous, context), dim=1).unsqueeze(1)
            out, state = self.decoder(inputs, state)
            out = out.squeeze(1)
            context = self._attend(out, outputs, keys)
            z = self.head(self.dropout(self.norm(torch.cat((out, context), dim=1))))
            mean, logvar = z[:, :1], z[:, 1:].clamp(LOGVAR_MIN, LOGVAR_MAX)
            means.append(mean)
            logvars.append(logvar)
            previous = mean.detach()
            if targets is not None and teacher_forcing > 0:
                use = torch.rand(batch, 1, device=x.device) < teacher_forcing
                previous = torch.where(use, targets[:, step : step + 1], previous)
        return torch.cat(means, dim=1), torch.cat(logvars, dim=1)


class Seq2SeqForecaster(ForecasterBase):
    """Seq2seq LSTM forecaster with attention and calibrated intervals.

    Args:
        config: Sizes (``input_dim``, ``seq_len``, ``hidden_dim``, ``num_layers``,
            ``dropout``, ``bidirectional``, ``horizons``); default ``ModelConfig()``.
        seq2seq: Teacher forcing and attention kind (default ``Seq2SeqConfig()``).

    Examples:
        >>> import numpy as np
        >>> from model import TrainConfig
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 10, 6)).astype("float32")
        >>> y = np.stack([0.01 * X[:, -1, 0], 0.02 * X[:, -1, 0]], axis=1)
        >>> m = Seq2SeqForecaster(ModelConfig(hidden_dim=8, num_layers=1, horizons=(1, 2)))
        >>> len(m.fit(X, y, TrainConfig(epochs=2)))
        2
        >>> m.forecast_one(X[0]).mean.shape
        (2,)
    """

    kind = "seq2seq"

    def __init__(
        self, config: ModelConfig | None = None, seq2seq: Seq2SeqConfig | None = None
    ) -> None:
        config = ModelConfig() if config is None else config
        seq2seq = Seq2SeqConfig() if seq2seq is None else seq2seq
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        if not isinstance(seq2seq, Seq2SeqConfig):
            raise ValueError(f"seq2seq must be a Seq2SeqConfig, got {type(seq2seq).__name__}")
        self._init_state(config)
        self.seq2seq_config = seq2seq
        self.kind_config = seq2seq
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.network = Seq2SeqNetwork(config, seq2seq).eval()
        self.x_scaler = Standardizer.identity(config.input_dim)
        self.y_scaler = Standardizer.identity(config.n_outputs)

    def fit(
        self,
        X: Any,
        y: Any,
        config: TrainConfig | None = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        progress: Any = None,
    ) -> list[dict[str, Any]]:
        """Train from scratch (seeded), keep the best epoch, calibrate on validation.

        Same split, scaling, loss (beta-NLL), Adam, clipping (``grad_clip``), plateau
        schedule and early stopping as ``Model.fit``; teacher forcing decays linearly from
        ``teacher_forcing_start`` at epoch 1 to ``teacher_forcing_end`` at ``epochs``.

        Args:
            X: ``(N, seq_len, input_dim)`` features.
            y: ``(N,)`` or ``(N, H)`` log returns.
            config: The run's settings (``TrainConfig()``).
            X_val: Optional explicit validation features.
            y_val: Targets of ``X_val``.
            progress: ``progress(epoch, epochs, record)`` after each epoch.

        Returns:
            One record per epoch (``epoch``, ``train_loss``, ``val_loss``, ``lr``,
            ``seconds``, ``teacher_forcing``).
        """
        config = TrainConfig() if config is None else config
        X, y, X_val, y_val = self._split(X, y, config, X_val, y_val)
        self.x_scaler, self.y_scaler = Standardizer.fit(X), Standardizer.fit(y)
        tensors = (
            self._scaled(X),
            torch.from_numpy(self.y_scaler.transform(y).astype(np.float32)),
            self._scaled(X_val),
            torch.from_numpy(self.y_scaler.transform(y_val).astype(np.float32)),
        )
        schedule = self.seq2seq_config

        def forward(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor, epoch: int) -> Any:
            return net(xb, yb, schedule.teacher_forcing(epoch, config.epochs))

        with _training_context(config.seed, config.num_threads):
            self.network = Seq2SeqNetwork(self.config, self.seq2seq_config)
            history, best_epoch = fit_network(
                self.network, *tensors, config, progress, forward=forward
            )
        self.network.eval()
        for record in history:
            record["teacher_forcing"] = schedule.teacher_forcing(record["epoch"], config.epochs)
        self.history = history
        self.training_summary = {
            "n_train": int(X.shape[0]),
            "n_val": int(X_val.shape[0]),
            "seq_len": int(X.shape[1]),
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "best_val_loss": history[best_epoch - 1]["val_loss"] if best_epoch else None,
            "seconds": sum(r["seconds"] for r in history),
            "settings": dataclasses.asdict(config),
            "n_calibration": int(X_val.shape[0]),
        }
        self.calibrate(X_val, y_val)
        return history

    def _scaled(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.x_scaler.transform(X).astype(np.float32))

    def _mean_sigma(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, logvars = [], []
        with torch.inference_mode():
            for i in range(0, X.shape[0], _CHUNK):
                mean, logvar = self.network(self._scaled(X[i : i + _CHUNK]))
                means.append(mean.numpy())
                logvars.append(logvar.numpy())
        mean = self.y_scaler.inverse(np.concatenate(means).astype(np.float64))
        sigma = np.exp(0.5 * np.concatenate(logvars).astype(np.float64)) * self.y_scaler.std
        return mean, sigma

    # -- persistence ----------------------------------------------------------------------

    def _parts(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tensors = net_tensors(self.network.state_dict())
        for name, scaler in (("x", self.x_scaler), ("y", self.y_scaler)):
            tensors[f"{name}_mean"] = np.ascontiguousarray(scaler.mean, dtype=np.float64)
            tensors[f"{name}_std"] = np.ascontiguousarray(scaler.std, dtype=np.float64)
        tensors["calibration"] = np.ascontiguousarray(self._calibration_tensor(), np.float64)
        return tensors, {"seq2seq": self.seq2seq_config.to_dict()}

    @classmethod
    def _from_header(cls, header: ModelHeader) -> Seq2SeqForecaster:
        path, config = header.path, header.config
        unexpected_keys(header, {"seq2seq"})
        s2s = kind_config_field(header, "seq2seq", Seq2SeqConfig)
        with torch.device("meta"):  # shapes only: nothing is allocated
            shapes = {
                k: tuple(v.shape) for k, v in Seq2SeqNetwork(config, s2s).state_dict().items()
            }
        d, h = config.input_dim, config.n_outputs
        expected = {NET_PREFIX + k: ("F32", s) for k, s in shapes.items()}
        expected.update(
            {
                "x_mean": ("F64", (d,)),
                "x_std": ("F64", (d,)),
                "y_mean": ("F64", (h,)),
                "y_std": ("F64", (h,)),
                "calibration": ("F64", (-1, h)),
            }
        )
        what = f"its seq2seq config ({excerpt(config.to_dict())})"
        arrays = read_checked(header, expected, what)
        for key in ("x_std", "y_std"):
            if (arrays[key] <= 0).any():
                raise ModelFileError(f"corrupt model file {path}: {key} must be > 0")
        model = cls(config, s2s)
        state = {
            k[len(NET_PREFIX) :]: torch.from_numpy(v)
            for k, v in arrays.items()
            if k.startswith(NET_PREFIX)
        }
        model.network.load_state_dict(state, strict=True)
        model.network.eval()
        model.x_scaler = Standardizer(arrays["x_mean"], arrays["x_std"])
        model.y_scaler = Standardizer(arrays["y_mean"], arrays["y_std"])
        model._restore_common(header, arrays)
        probe = np.zeros((2, config.seq_len, config.input_dim))
        probe[1] = 1.0
        with np.errstate(all="ignore"):
            f = model.forecast(probe)
        if not np.isfinite(np.stack([f.mean, f.lower, f.upper])).all():
            raise ModelFileError(f"corrupt model file {path}: non-finite forecasts on a probe")
        return model
