"""Tree forecasters: LightGBM gradient boosting (``"gbdt"``) and random forest (``"rf"``).

The trees see the last ``seq_len`` feature vectors of a sequence flattened
(``seq_len * input_dim`` columns), so the same ``X`` as the LSTM's works. Per horizon, one
booster forecasts the mean; a second one, fitted on the first one's absolute training
residuals, forecasts the scale (``sigma``, floored above 0). Intervals are normalized split
conformal: scores ``|y - mean| / sigma`` on the validation part (``ConformalCalibration``).

In the model file each booster is its LightGBM text model (``model_to_string``) stored as a
uint8 tensor ``tree.mean.<h>`` / ``tree.scale.<h>``; the header's ``kind_config`` holds the
``TreeConfig``, the feature count and every text's byte size, all checked (and each text
scanned: tree count, leaves, feature indices) before LightGBM parses it. No pickle.
LightGBM is an optional extra: ``pip install 'model[trees]'``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from typing import Any

import numpy as np

from model.base import ForecasterBase, kind_config_field, read_checked, unexpected_keys
from model.config import ModelConfig, TrainConfig, TreeConfig
from model.errors import MissingExtraError, ModelFileError
from model.fileformat import ModelHeader

__all__ = ["MAX_BOOSTER_BYTES", "TreeForecaster", "lightgbm"]

#: Largest LightGBM text model a file may hold per booster.
MAX_BOOSTER_BYTES = 256 << 20
#: Smallest sigma, as a share of the mean absolute training residual of the horizon.
SIGMA_FLOOR_SHARE = 0.05


def lightgbm() -> Any:
    """Import LightGBM, or raise one line naming the extra to install.

    Returns:
        The ``lightgbm`` module.

    Raises:
        MissingExtraError: LightGBM is not installed.
    """
    try:
        import lightgbm as lgb
    except ImportError:
        raise MissingExtraError(
            "the tree forecasters need LightGBM: pip install 'model[trees]'"
        ) from None
    return lgb


class TreeForecaster(ForecasterBase):
    """LightGBM boosters per horizon on the flattened last ``seq_len`` feature vectors.

    Args:
        config: ``input_dim``, ``seq_len`` and ``horizons`` (the network fields of a
            ``ModelConfig`` are not used); default ``ModelConfig()``.
        tree: The LightGBM settings (default ``TreeConfig()``).
        kind: ``"gbdt"`` (gradient boosting) or ``"rf"`` (random forest: bagged trees
            averaged; needs ``bagging_fraction < 1``).

    Raises:
        ValueError: A bad kind or config.

    Examples:
        >>> import numpy as np
        >>> from model import ModelConfig, TreeConfig
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 5, 2))
        >>> y = 0.01 * X[:, -1, 0] + 0.001 * rng.normal(size=300)
        >>> m = TreeForecaster(ModelConfig(input_dim=2, seq_len=5), TreeConfig(n_estimators=20))
        >>> _ = m.fit(X, y)
        >>> m.forecast(X[:4]).mean.shape
        (4, 1)
    """

    def __init__(
        self,
        config: ModelConfig | None = None,
        tree: TreeConfig | None = None,
        *,
        kind: str = "gbdt",
    ) -> None:
        config = ModelConfig() if config is None else config
        tree = TreeConfig() if tree is None else tree
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        if not isinstance(tree, TreeConfig):
            raise ValueError(f"tree must be a TreeConfig, got {type(tree).__name__}")
        if kind not in ("gbdt", "rf"):
            raise ValueError(f"kind must be 'gbdt' or 'rf', got {kind!r}")
        if kind == "rf" and tree.bagging_fraction >= 1:
            raise ValueError("a random forest (kind 'rf') needs bagging_fraction < 1")
        self._init_state(config)
        self.kind = kind
        self.tree_config = tree
        self.kind_config = tree
        self.boosters: list[Any] = []  # mean booster per horizon
        self.scale_boosters: list[Any] = []  # |residual| booster per horizon
        self.sigma_floor = np.full(config.n_outputs, 1e-12)

    @classmethod
    def _kinds(cls) -> tuple[str, ...]:
        return ("gbdt", "rf")

    @property
    def n_features(self) -> int:
        """Columns the boosters see: ``seq_len * input_dim``."""
        return self.config.seq_len * self.config.input_dim

    def _flat(self, X: np.ndarray) -> np.ndarray:
        L = self.config.seq_len
        if X.shape[1] < L:
            raise ValueError(f"X must have at least seq_len={L} timesteps, got {X.shape[1]}")
        return np.ascontiguousarray(X[:, -L:, :].reshape(X.shape[0], -1), dtype=np.float64)

    def _params(self, num_threads: int | None) -> dict[str, Any]:
        t = self.tree_config
        return {
            "objective": "regression",
            "boosting": self.kind,
            "num_leaves": t.num_leaves,
            "learning_rate": t.learning_rate,
            "min_data_in_leaf": t.min_child_samples,
            "feature_fraction": t.feature_fraction,
            "bagging_fraction": t.bagging_fraction,
            "bagging_freq": 1 if t.bagging_fraction < 1 else 0,
            "seed": t.seed,
            "max_bin": t.max_bin,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": num_threads or 0,
            "verbose": -1,
        }

    def _boost(
        self, lgb: Any, params: dict[str, Any], train: Any, val: Any
    ) -> tuple[Any, dict[str, Any]]:
        """One booster on the labels set in ``train``/``val``, early-stopped on ``val``.

        The loop of ``lgb.train`` with its ``early_stopping`` callback (the same booster,
        rounds and best round: stop once ``early_stopping_rounds`` rounds have not lowered
        the validation l2 strictly below its best), without the callback machinery and
        without its final text round trip of every round: only the best rounds' text is
        written, once, and parsed.
        """
        t = self.tree_config
        params = {**params, "num_iterations": t.n_estimators}
        # as lgb.train: both sets see the booster's parameters while the booster is made
        train._update_params(params)
        val._update_params(params).set_reference(train)
        try:
            booster = lgb.Booster(params=params, train_set=train)
            booster.add_valid(val, "val")
        finally:
            train._reverse_update_params()
            val._reverse_update_params()
        curve: list[float] = []
        best, best_l2 = 0, math.inf
        for i in range(t.n_estimators):
            booster.update()
            ((_, _, l2, _),) = booster.eval_valid()
            curve.append(l2)
            if l2 < best_l2:
                best, best_l2 = i, l2
            elif i - best >= t.early_stopping_rounds:
                break
        text = booster.model_to_string(num_iteration=best + 1)
        # the in-memory booster is the parse of the text load will parse: the same numbers
        text = _canonical_text(text, self.n_features, t, self.kind, check=False)
        booster = lgb.Booster(model_str=text)
        record = {"rounds": len(curve), "best_round": best + 1, "val_l2": float(curve[best])}
        return booster, record

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
        """Fit the mean and scale boosters of every horizon, calibrate on validation.

        Without ``X_val`` the last ``config.val_fraction`` of ``X`` (time order) is the
        validation part: boosting stops early on it (``TreeConfig.early_stopping_rounds``)
        and the intervals are calibrated on it. ``config.num_threads`` sets LightGBM's
        threads; the same data, ``TreeConfig.seed`` and threads give the same trees.

        Args:
            X: ``(N, L, input_dim)`` features with ``L >= seq_len`` (the last ``seq_len``
                steps are used).
            y: ``(N,)`` or ``(N, H)`` log returns.
            config: ``val_fraction`` and ``num_threads`` are used (``TrainConfig()``).
            X_val: Optional explicit validation features.
            y_val: Targets of ``X_val``.
            progress: ``progress(i, 2 * H, record)`` after each booster.

        Returns:
            One record per booster: ``horizon``, ``booster`` (mean/scale), ``rounds``,
            ``best_round``, ``val_l2``, ``seconds``.

        Raises:
            ValueError: Bad shapes or values, too few samples.
            MissingExtraError: LightGBM is not installed.
        """
        lgb = lightgbm()
        config = TrainConfig() if config is None else config
        X, y, X_val, y_val = self._split(X, y, config, X_val, y_val)
        F, Fv = self._flat(X), self._flat(X_val)
        params = self._params(config.num_threads)
        # the features are binned once: every booster (mean and scale, each horizon) sees
        # the same rows and bins (the bins depend on the features only), with its labels
        train = lgb.Dataset(F, label=y[:, 0], params={"verbose": -1}, free_raw_data=False)
        val = lgb.Dataset(Fv, label=y_val[:, 0], reference=train, free_raw_data=False)
        history: list[dict[str, Any]] = []
        means, scales = [], []
        floors = np.empty(self.config.n_outputs)
        total = 2 * self.config.n_outputs
        for h in range(self.config.n_outputs):
            for which in ("mean", "scale"):
                start = time.perf_counter()
                if which == "mean":
                    target, target_val = y[:, h], y_val[:, h]
                else:
                    target = np.abs(y[:, h] - means[h].predict(F))
                    target_val = np.abs(y_val[:, h] - means[h].predict(Fv))
                    floors[h] = max(SIGMA_FLOOR_SHARE * float(target.mean()), 1e-12)
                train.set_label(target)
                val.set_label(target_val)
                booster, record = self._boost(lgb, params, train, val)
                (means if which == "mean" else scales).append(booster)
                record = {"horizon": self.config.horizons[h], "booster": which, **record}
                record["seconds"] = time.perf_counter() - start
                history.append(record)
                if progress is not None:
                    progress(len(history), total, record)
        self.boosters, self.scale_boosters, self.sigma_floor = means, scales, floors
        self.history = history
        self.training_summary = {
            "n_train": int(X.shape[0]),
            "n_val": int(X_val.shape[0]),
            "seq_len": self.config.seq_len,
            "seconds": sum(r["seconds"] for r in history),
            "settings": dataclasses.asdict(config),
            "tree": self.tree_config.to_dict(),
            "n_calibration": int(X_val.shape[0]),
        }
        self.calibrate(X_val, y_val)
        return history

    def _mean_sigma(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.boosters:
            raise ValueError("this tree forecaster is not fitted: call fit first")
        F = self._flat(X)
        mean = np.column_stack([b.predict(F) for b in self.boosters])
        scale = np.column_stack([b.predict(F) for b in self.scale_boosters])
        return mean.astype(np.float64), np.maximum(scale, self.sigma_floor)

    # -- persistence ----------------------------------------------------------------------

    def _parts(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if not self.boosters:
            raise ValueError("an unfitted tree forecaster cannot be saved: call fit first")
        tensors: dict[str, np.ndarray] = {}
        sizes: dict[str, list[int]] = {"mean": [], "scale": []}
        for which, boosters in (("mean", self.boosters), ("scale", self.scale_boosters)):
            for h, booster in enumerate(boosters):
                raw = np.frombuffer(booster.model_to_string().encode(), dtype=np.uint8)
                tensors[f"tree.{which}.{h}"] = raw.copy()
                sizes[which].append(int(raw.size))
        tensors["sigma_floor"] = np.ascontiguousarray(self.sigma_floor, dtype=np.float64)
        tensors["calibration"] = np.ascontiguousarray(self._calibration_tensor(), np.float64)
        kind_config = {
            "tree": self.tree_config.to_dict(),
            "n_features": self.n_features,
            "booster_bytes": sizes,
        }
        return tensors, kind_config

    @classmethod
    def _from_header(cls, header: ModelHeader) -> TreeForecaster:
        path, config = header.path, header.config
        unexpected_keys(header, {"tree", "n_features", "booster_bytes"})
        tree = kind_config_field(header, "tree", TreeConfig)
        if "max_bin" not in header.kind_config["tree"]:  # written before the field existed:
            tree = dataclasses.replace(tree, max_bin=255)  # trained with LightGBM's default
        try:
            model = cls(config, tree, kind=header.kind)
        except ValueError as e:
            raise ModelFileError(f"incompatible model file {path}: {e}") from None
        H, n_features = config.n_outputs, model.n_features
        if header.kind_config.get("n_features") != n_features:
            raise ModelFileError(
                f"corrupt model file {path}: n_features is "
                f"{header.kind_config.get('n_features')!r}, the config implies {n_features}"
            )
        sizes = header.kind_config.get("booster_bytes")
        if not isinstance(sizes, dict) or set(sizes) != {"mean", "scale"}:
            raise ModelFileError(f"corrupt model file {path}: booster_bytes is malformed")
        expected: dict[str, tuple[str, tuple[int, ...]]] = {
            "sigma_floor": ("F64", (H,)),
            "calibration": ("F64", (-1, H)),
        }
        for which in ("mean", "scale"):
            claimed = sizes[which]
            if not isinstance(claimed, list) or len(claimed) != H:
                raise ModelFileError(
                    f"corrupt model file {path}: booster_bytes[{which!r}] must list {H} sizes"
                )
            for h, n in enumerate(claimed):
                name = f"tree.{which}.{h}"
                if type(n) is not int or not 0 < n <= MAX_BOOSTER_BYTES:
                    raise ModelFileError(
                        f"refusing {path}: booster {name} claims {n!r} bytes "
                        f"(1 to {MAX_BOOSTER_BYTES} allowed)"
                    )
                stored = header.tensors.get(name)
                if stored is not None and stored[1] != (n,):
                    raise ModelFileError(
                        f"corrupt model file {path}: booster {name} claims {n} bytes of "
                        f"text, the stored tensor has shape {stored[1]}"
                    )
                expected[name] = ("U8", (n,))
        arrays = read_checked(header, expected, f"its {header.kind} header")
        floor = arrays["sigma_floor"]
        if (floor <= 0).any():
            raise ModelFileError(f"corrupt model file {path}: sigma_floor must be > 0")
        lgb = lightgbm()
        boosters: dict[str, list[Any]] = {"mean": [], "scale": []}
        for which in ("mean", "scale"):
            for h in range(H):
                name = f"tree.{which}.{h}"
                boosters[which].append(_parse_booster(lgb, path, name, arrays[name], model))
        model.boosters, model.scale_boosters = boosters["mean"], boosters["scale"]
        model.sigma_floor = floor
        model._restore_common(header, arrays)
        probe = np.zeros((2, config.seq_len, config.input_dim))
        probe[1] = 1.0
        f = model.forecast(probe)
        if not np.isfinite(np.stack([f.mean, f.lower, f.upper])).all():
            raise ModelFileError(f"corrupt model file {path}: non-finite forecasts on a probe")
        return model


_TREE_KEYS = (
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
    "is_linear",
    "shrinkage",
)
_INT = re.compile(r"-?[0-9]{1,10}")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
_INFO = re.compile(rf"none|\[{_FLOAT.pattern}:{_FLOAT.pattern}\]")


class _Bad(ValueError):
    """A reason a booster text is refused."""


def _numbers(fields: dict[str, str], key: str, n: int | tuple[int, ...], kind: str) -> list:
    tokens = fields[key].split(" ") if fields[key] else []
    sizes = (n,) if isinstance(n, int) else n
    if len(tokens) not in sizes:
        raise _Bad(f"{len(tokens)} {key} entries, {sizes[0]} expected")
    pattern = _INT if kind == "int" else _FLOAT
    if any(pattern.fullmatch(t) is None for t in tokens):
        raise _Bad(f"a non-numeric {key} entry")
    values = [int(t) if kind == "int" else float(t) for t in tokens]
    if kind == "float" and not all(math.isfinite(v) for v in values):
        raise _Bad(f"a non-finite {key} entry")
    return values


def _check_tree(fields: dict[str, str], n_features: int, max_leaves: int) -> None:
    """Check one tree's fields: counts, ranges, and children forming one binary tree."""
    (leaves,) = _numbers(fields, "num_leaves", 1, "int")
    if not 1 <= leaves <= max_leaves:
        raise _Bad(f"claims {leaves} leaves (num_leaves={max_leaves})")
    if fields["num_cat"] != "0" or fields["is_linear"] != "0":
        raise _Bad("categorical or linear trees are not written by this library")
    _numbers(fields, "shrinkage", 1, "float")
    inner = leaves - 1
    split = _numbers(fields, "split_feature", inner, "int")
    for key in ("split_gain", "threshold", "internal_value", "internal_weight"):
        _numbers(fields, key, inner, "float")
    _numbers(fields, "internal_count", inner, "int")
    decisions = _numbers(fields, "decision_type", inner, "int")
    _numbers(fields, "leaf_value", leaves, "float")
    _numbers(fields, "leaf_weight", (leaves, 0) if leaves == 1 else leaves, "float")
    _numbers(fields, "leaf_count", leaves, "int")
    if any(not 0 <= f < n_features for f in split):
        raise _Bad(f"a split on a feature outside 0..{n_features - 1}")
    if any(d not in (0, 2, 4, 6, 8, 10) for d in decisions):
        raise _Bad("a decision_type this library does not write")
    children = _numbers(fields, "left_child", inner, "int")
    children += _numbers(fields, "right_child", inner, "int")
    # every internal node but the root and every leaf (~k) is exactly one node's child:
    # the nodes form one tree, so prediction ends in a leaf
    expected = list(range(1, inner)) + [-k - 1 for k in range(leaves)]
    if leaves > 1 and sorted(children) != sorted(expected):
        raise _Bad("children that do not form a binary tree")


def _canonical_text(
    text: str, n_features: int, tree: TreeConfig, kind: str = "gbdt", *, check: bool = True
) -> str:
    """A LightGBM text model rebuilt from the checked fields of ``text``.

    ``text`` must have the layout ``model_to_string`` writes: the header lines, then at
    most ``tree.n_estimators`` trees with every field LightGBM reads, each array of the
    length the tree's leaf count implies, numbers only, children forming a binary tree.
    The rebuilt text (header, trees, recomputed ``tree_sizes``; no feature importances or
    parameters) is what LightGBM parses, so its parser sees only well-formed input.
    ``check=False`` skips the per-tree number scan (for the text LightGBM has just written
    in ``fit``; the rebuilt text is the same, and loading it scans it in full).

    Raises:
        _Bad: The reason ``text`` is refused.
    """
    body, marker, _ = text.partition("\nend of trees\n")
    if not marker:
        raise _Bad("it is not a LightGBM text model (no 'end of trees')")
    blocks = body.split("\nTree=")
    lines = blocks[0].split("\n")
    if lines[0] != "tree":
        raise _Bad("it is not a LightGBM text model")
    head = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    flags = [line for line in lines[1:] if line and "=" not in line]
    if flags != (["average_output"] if kind == "rf" else []):
        raise _Bad(f"its header flags {_short(flags)} do not match kind {kind!r}")
    names = " ".join(f"Column_{i}" for i in range(n_features))
    wanted = {
        "version": "v4",
        "num_class": "1",
        "num_tree_per_iteration": "1",
        "label_index": "0",
        "max_feature_idx": str(n_features - 1),
        "objective": "regression",
        "feature_names": names,
    }
    for key, value in wanted.items():
        if head.get(key) != value:
            raise _Bad(f"its {key} is {_short(head.get(key))}, {_short(value)} expected")
    infos = head.get("feature_infos", "").split(" ")
    if len(infos) != n_features or any(_INFO.fullmatch(i) is None for i in infos):
        raise _Bad("its feature_infos do not list one range per feature")
    trees = blocks[1:]
    if len(trees) > tree.n_estimators:
        raise _Bad(f"it holds {len(trees)} trees, more than n_estimators={tree.n_estimators}")
    out = []
    for i, block in enumerate(trees):
        rows = block.strip("\n").split("\n")
        if rows[0] != str(i):
            raise _Bad(f"tree {i} is numbered {_short(rows[0])}")
        keys = [r.split("=", 1)[0] for r in rows[1:]]
        if tuple(keys) != _TREE_KEYS or any("=" not in r for r in rows[1:]):
            raise _Bad(f"tree {i} does not have the fields LightGBM writes")
        fields = dict(r.split("=", 1) for r in rows[1:])
        try:
            if check:
                _check_tree(fields, n_features, tree.num_leaves)
        except _Bad as e:
            words = f"tree {i} {e}" if str(e).startswith("claims") else f"tree {i} has {e}"
            raise _Bad(words) from None
        out.append(f"Tree={i}\n" + "".join(f"{k}={fields[k]}\n" for k in _TREE_KEYS) + "\n\n")
    header = ["tree", *(f"{k}={v}" for k, v in wanted.items())]
    if kind == "rf":  # the forest averages its trees
        header.insert(header.index("objective=regression") + 1, "average_output")
    header.append("feature_infos=" + " ".join(infos))
    header.append("tree_sizes=" + " ".join(str(len(b.encode())) for b in out))
    return "\n".join(header) + "\n\n" + "".join(out) + "end of trees\n\npandas_categorical:null\n"


def _short(value: Any) -> str:
    """A short repr of a value read from a file."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_booster(lgb: Any, path: Any, name: str, raw: np.ndarray, model: TreeForecaster) -> Any:
    """Decode, scan and parse one booster text (one ModelFileError line if bad)."""
    try:
        text = raw.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"corrupt model file {path}: {name} is not UTF-8 text") from None
    try:
        text = _canonical_text(text, model.n_features, model.tree_config, model.kind)
    except _Bad as e:
        raise ModelFileError(f"corrupt model file {path}: booster {name}: {e}") from None
    try:
        booster = lgb.Booster(model_str=text)
    except Exception as e:  # LightGBMError and friends: one line
        detail = " ".join(str(e).split())[:120]
        raise ModelFileError(
            f"corrupt model file {path}: booster {name} does not parse ({detail})"
        ) from None
    if booster.num_feature() != model.n_features:
        raise ModelFileError(f"corrupt model file {path}: booster {name} feature count")
    return booster
