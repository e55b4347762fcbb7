"""``EnsembleForecaster``: a weighted blend of forecasters of any kinds (``"ensemble"``).

The blend's mean is the weighted mean of the members' means and its scale the weighted
mean of their sigmas; its interval comes from its own normalized conformal calibration on
validation residuals of the blend. Weights are fixed, or adaptive: each member's weight is
proportional to the inverse of its mean absolute error over the last ``window`` realized
outcomes (``update(X, y)`` for a batch, ``observe(seq, realized)`` for one, as the live
loop sees them; ``fit`` starts the window with the validation outcomes).

One file holds every member: member ``i``'s tensors are prefixed ``m<i>.`` and its header
(kind, config, kind_config, metadata, training) is nested in the ensemble's
``kind_config["members"]``; each is checked like a file of its own. No pickle.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.base import ForecasterBase, kind_config_field, read_checked, unexpected_keys
from model.config import MAX_MEMBERS, EnsembleConfig, ModelConfig, TrainConfig
from model.errors import ModelFileError
from model.fileformat import KINDS, ModelHeader, excerpt

__all__ = ["EnsembleForecaster"]

_MEMBER_KEYS = {"kind", "config", "kind_config", "metadata", "training"}
_EPS = 1e-12


class EnsembleForecaster(ForecasterBase):
    """A weighted blend of forecasters (any kinds but ``ensemble``) with its own intervals.

    Each member sees the last ``seq_len`` steps of ``X`` its own config names; the
    ensemble's ``config.seq_len`` is the longest of them.

    Args:
        members: 1 to 64 forecasters with the same ``input_dim`` and ``horizons``.
        config: How to weight them (default: fixed, equal weights).

    Raises:
        ValueError: No members, too many, mismatched shapes or weights.

    Examples:
        >>> import numpy as np
        >>> from model import Model, ModelConfig, TreeConfig, TreeForecaster
        >>> cfg = ModelConfig(input_dim=2, seq_len=5, hidden_dim=4, num_layers=1)
        >>> e = EnsembleForecaster([Model(cfg), TreeForecaster(cfg, TreeConfig(n_estimators=5))])
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.normal(size=(200, 5, 2)), 0.01 * rng.normal(size=200)
        >>> _ = e.fit(X, y)
        >>> e.weights.round(2).tolist()
        [0.5, 0.5]
    """

    kind = "ensemble"

    def __init__(self, members: Sequence[Any], config: EnsembleConfig | None = None) -> None:
        config = EnsembleConfig() if config is None else config
        if not isinstance(config, EnsembleConfig):
            raise ValueError(f"config must be an EnsembleConfig, got {type(config).__name__}")
        members = list(members)
        if not 1 <= len(members) <= MAX_MEMBERS:
            raise ValueError(f"an ensemble needs 1 to {MAX_MEMBERS} members, got {len(members)}")
        first = members[0].config
        for i, m in enumerate(members):
            if getattr(m, "kind", None) not in KINDS or m.kind == "ensemble":
                raise ValueError(f"member {i} is not a forecaster of a known kind (no ensembles)")
            if m.config.input_dim != first.input_dim or m.config.horizons != first.horizons:
                raise ValueError(
                    f"member {i} has input_dim {m.config.input_dim} and horizons "
                    f"{m.config.horizons}, member 0 {first.input_dim} and {first.horizons}"
                )
        self._fixed = np.array(config.normalized(len(members)))
        self._init_state(
            ModelConfig(
                input_dim=first.input_dim,
                seq_len=max(m.config.seq_len for m in members),
                horizons=first.horizons,
            )
        )
        self.members = members
        self.ensemble_config = config
        self.kind_config = config
        self.errors = np.zeros((0, len(members)))  # realized |error| per outcome and member

    # -- weights ------------------------------------------------------------------------

    @property
    def weights(self) -> np.ndarray:
        """The current member weights (sum 1): fixed, or inverse MAE over the window."""
        if self.ensemble_config.weighting == "fixed" or self.errors.shape[0] == 0:
            return self._fixed.copy()
        inverse = 1.0 / (self.errors.mean(axis=0) + _EPS)
        return inverse / inverse.sum()

    def _member_forecasts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and sigmas of every member, ``(M, N, H)`` each."""
        L = self.config.seq_len
        if X.shape[1] < L:
            raise ValueError(f"X must have at least seq_len={L} timesteps, got {X.shape[1]}")
        means, sigmas = [], []
        for m in self.members:
            f = m.forecast(_last(X, m))
            means.append(f.mean)
            sigmas.append(f.sigma)
        return np.stack(means), np.stack(sigmas)

    def _anchor(self, sigma: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The members' sigmas are blended already (each with its own anchor)."""
        return sigma

    def _mean_sigma(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, sigmas = self._member_forecasts(X)
        w = self.weights[:, None, None]
        return (w * means).sum(axis=0), (w * sigmas).sum(axis=0)

    def update(self, X: Any, y: Any) -> None:
        """Record realized outcomes: each member's absolute error, keeping the last window.

        Args:
            X: ``(m, seq_len, input_dim)`` features whose outcomes are now known.
            y: ``(m,)`` or ``(m, H)`` the outcomes.

        Raises:
            ValueError: Bad shapes or values.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        means, _ = self._member_forecasts(X)
        errors = np.abs(means - y[None]).mean(axis=2).T  # (m, M)
        window = self.ensemble_config.window
        self.errors = np.concatenate([self.errors, errors])[-window:]

    def observe(self, seq: Any, realized: Any) -> None:
        """Record one realized outcome (the live loop's ``update``).

        Args:
            seq: ``(seq_len, input_dim)`` features of the forecast now resolved.
            realized: ``(H,)`` realized log returns (a number when ``H == 1``).
        """
        realized = np.asarray(realized, dtype=np.float64).reshape(1, -1)
        self.update(self._check_seq(seq), realized)

    def forecast_online(self, X: Any, y: Any, lag: int = 1, level: float = 0.9) -> Any:
        """Forecast rows in time order, learning row ``i``'s outcome before row ``i + lag``.

        The batch equivalent of the live loop's ``forecast_one`` / ``observe`` sequence:
        before row ``j`` is forecast, the outcomes of rows ``<= j - lag`` have been
        recorded with :meth:`update` (so adaptive weights move within the block). The
        members are fixed, so their forecasts are computed once for all rows. On return
        the window holds the outcomes of rows ``<= N - 1 - lag`` (the ones a live loop
        would have seen by the time it made the last forecast).

        Args:
            X: ``(N, seq_len, input_dim)`` features, oldest first.
            y: ``(N,)`` or ``(N, H)`` their outcomes.
            lag: Rows between a forecast and the first forecast that knows its outcome.
            level: Interval level.

        Returns:
            The ``Forecast`` of every row, ``(N, H)`` arrays.

        Raises:
            ValueError: Bad shapes, values or ``lag``.
        """
        if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
            raise ValueError(f"lag must be an integer >= 1, got {lag!r}")
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        means, sigmas = self._member_forecasts(X)
        errors = np.abs(means - y[None]).mean(axis=2).T  # (N, M), as update() records
        window = self.ensemble_config.window
        weights = np.empty((X.shape[0], len(self.members)))
        for j in range(X.shape[0]):
            if j >= lag:
                self.errors = np.concatenate([self.errors, errors[j - lag : j - lag + 1]])
                self.errors = self.errors[-window:]
            weights[j] = self.weights
        w = weights.T[:, :, None]
        mu, sigma = (w * means).sum(axis=0), (w * sigmas).sum(axis=0)
        return self._with_interval(mu, sigma, level)

    # -- training -----------------------------------------------------------------------

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
        """Fit every member on the same split, then calibrate the blend on validation.

        Args:
            X: ``(N, L, input_dim)`` features (``L`` at least every member's ``seq_len``).
            y: ``(N,)`` or ``(N, H)`` log returns.
            config: Passed to every member's ``fit`` (``TrainConfig()``).
            X_val: Optional explicit validation features (else the last
                ``val_fraction``).
            y_val: Targets of ``X_val``.
            progress: ``progress(i, M, record)`` after each member.

        Returns:
            One record per member: ``member``, ``kind``, ``seconds``, ``val_mae``.
        """
        config = TrainConfig() if config is None else config
        X, y, X_val, y_val = self._split(X, y, config, X_val, y_val)
        history = []
        for i, m in enumerate(self.members):
            start = time.perf_counter()
            Xm, Xv = _last(X, m), _last(X_val, m)
            m.fit(Xm, y, config, X_val=Xv, y_val=y_val)
            val_mae = float(np.abs(m.forecast(Xv).mean - y_val).mean())
            record = {
                "member": i,
                "kind": m.kind,
                "seconds": time.perf_counter() - start,
                "val_mae": val_mae,
            }
            history.append(record)
            if progress is not None:
                progress(i + 1, len(self.members), record)
        self.errors = np.zeros((0, len(self.members)))
        self.update(X_val, y_val)
        self.history = history
        self.training_summary = {
            "n_train": int(X.shape[0]),
            "n_val": int(X_val.shape[0]),
            "seconds": sum(r["seconds"] for r in history),
            "weights": self.weights.tolist(),
            "n_calibration": int(X_val.shape[0]),
        }
        self.calibrate(X_val, y_val)
        return history

    # -- persistence ----------------------------------------------------------------------

    def _parts(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tensors: dict[str, np.ndarray] = {
            "ensemble.errors": np.ascontiguousarray(self.errors, dtype=np.float64),
            "calibration": np.ascontiguousarray(self._calibration_tensor(), np.float64),
        }
        members = []
        for i, m in enumerate(self.members):
            member_tensors, member_kind_config = m._parts()
            tensors.update({f"m{i}.{k}": v for k, v in member_tensors.items()})
            members.append(
                {
                    "kind": m.kind,
                    "config": m.config.to_dict(),
                    "kind_config": member_kind_config or {},
                    "metadata": m.metadata,
                    "training": {"summary": m.training_summary, "history": m.history},
                }
            )
        return tensors, {"ensemble": self.ensemble_config.to_dict(), "members": members}

    @classmethod
    def _from_header(cls, header: ModelHeader) -> EnsembleForecaster:
        from model.forecaster import build_from_header

        path, kc = header.path, header.kind_config
        unexpected_keys(header, {"ensemble", "members"})
        config = kind_config_field(header, "ensemble", EnsembleConfig)
        members = kc.get("members")
        if not isinstance(members, list) or not 1 <= len(members) <= MAX_MEMBERS:
            raise ModelFileError(
                f"corrupt model file {path}: members must be a list of 1 to {MAX_MEMBERS}"
            )
        n = len(members)
        if config.weights is not None and len(config.weights) != n:
            raise ModelFileError(
                f"corrupt model file {path}: {len(config.weights)} weights for {n} members"
            )
        own = {k: v for k, v in header.tensors.items() if not k.startswith("m")}
        strays = sorted(
            k
            for k in header.tensors
            if k.startswith("m") and not any(k.startswith(f"m{i}.") for i in range(n))
        )
        if strays:
            raise ModelFileError(
                f"corrupt model file {path}: tensors {excerpt(strays)} belong to no member "
                f"(the header lists {n})"
            )
        narrowed = _narrow(header, own, "", header.kind, header.config, header.kind_config)
        arrays = read_checked(
            narrowed,
            {
                "ensemble.errors": ("F64", (-1, n)),
                "calibration": ("F64", (-1, header.config.n_outputs)),
            },
            f"its ensemble header of {n} members",
        )
        built = []
        for i, entry in enumerate(members):
            built.append(_member(header, i, entry, build_from_header))
        try:
            model = cls(built, config)
        except ValueError as e:
            raise ModelFileError(f"incompatible model file {path}: {e}") from None
        if model.config != header.config:
            raise ModelFileError(
                f"corrupt model file {path}: config {excerpt(header.config.to_dict())} does "
                "not match the members"
            )
        errors = arrays["ensemble.errors"]
        if (errors < 0).any() or errors.shape[0] > config.window:
            raise ModelFileError(
                f"corrupt model file {path}: ensemble.errors must be >= 0, at most "
                f"{config.window} rows"
            )
        model.errors = errors
        model._restore_common(header, arrays)
        return model


def _last(X: np.ndarray, member: Any) -> np.ndarray:
    """The last ``seq_len`` steps of ``X`` that ``member`` was built for."""
    return X[:, X.shape[1] - member.config.seq_len :]


def _narrow(
    header: ModelHeader,
    tensors: dict[str, Any],
    prefix: str,
    kind: str,
    config: ModelConfig,
    kind_config: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> ModelHeader:
    """A header of the same file restricted to some tensors (the prefix removed)."""
    return ModelHeader(
        path=header.path,
        config=config,
        metadata=header.metadata if metadata is None else metadata,
        training=header.training if training is None else training,
        versions=header.versions,
        created=header.created,
        tensors={k[len(prefix) :]: v for k, v in tensors.items()},
        offsets={k[len(prefix) :]: header.offsets[k] for k in tensors},
        data_start=header.data_start,
        kind=kind,
        kind_config=kind_config,
    )


def _member(header: ModelHeader, i: int, entry: Any, build: Any) -> Any:
    """Check member ``i``'s nested header, then build it from its prefixed tensors."""
    path = header.path
    where = f"corrupt model file {path}: member {i}"
    if not isinstance(entry, dict) or set(entry) != _MEMBER_KEYS:
        raise ModelFileError(f"{where} must be a mapping of {sorted(_MEMBER_KEYS)}")
    kind = entry["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise ModelFileError(
            f"unsupported model file {path}: member {i} has unknown forecaster kind "
            f"{excerpt(kind)} (known: {', '.join(KINDS)})"
        )
    if kind == "ensemble":
        raise ModelFileError(f"{where} is itself an ensemble (not supported)")
    for key in ("config", "kind_config", "metadata", "training"):
        if not isinstance(entry[key], dict):
            raise ModelFileError(f"{where}: {key} must be a mapping")
    training = entry["training"]
    if not isinstance(training.get("summary", {}), dict) or not isinstance(
        training.get("history", []), list
    ):
        raise ModelFileError(f"{where}: training must hold a summary and a history list")
    try:
        config = ModelConfig.from_dict(entry["config"])
    except (TypeError, ValueError) as e:
        text = " ".join(str(e).split())[:160]
        raise ModelFileError(
            f"incompatible model file {path}: member {i} config ({text})"
        ) from None
    prefix = f"m{i}."
    tensors = {k: v for k, v in header.tensors.items() if k.startswith(prefix)}
    if not tensors:
        raise ModelFileError(f"{where} has no tensors (member count mismatch)")
    sub = _narrow(
        header,
        tensors,
        prefix,
        kind,
        config,
        entry["kind_config"],
        entry["metadata"],
        training,
    )
    return build(sub)
