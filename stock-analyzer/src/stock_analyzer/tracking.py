"""Experiment tracking with MLflow (``--track [URI]`` on ``train`` and ``backtest``).

Off by default, and free when off: :func:`tracked` with no URI yields ``None`` and never
imports MLflow. With ``--track`` and no URI the run goes to ``$MLFLOW_TRACKING_URI`` or,
when that is unset, to a local SQLite store ``sqlite:///mlflow.db`` with artifacts under
``./mlruns`` (MLflow 3 keeps its plain-file store in maintenance mode and refuses it by
default; the SQLite file is its recommended local store). MLflow is the optional extra
``stock-analyzer[track]``.

A run holds the flattened settings as params (``buffer.buffer_size``, ...), the per-epoch
losses as step metrics, the evaluation as metrics (``test.h1.mae``, ...), and the files
the command wrote (model, history, metrics, report, plots, exports) as artifacts.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any

import click

__all__ = ["DEFAULT_URI", "Run", "flatten", "track_option", "tracked"]

#: Where ``--track`` with no URI logs when ``MLFLOW_TRACKING_URI`` is unset.
DEFAULT_URI = "sqlite:///mlflow.db"


def track_option(func: Any) -> Any:
    """Add ``--track [URI]`` (a bare ``--track`` uses $MLFLOW_TRACKING_URI or a local store)."""
    return click.option(
        "--track",
        "track",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[URI]",
        help="Log this run to MLflow (bare --track: $MLFLOW_TRACKING_URI, else "
        f"{DEFAULT_URI} with artifacts in ./mlruns). Needs stock-analyzer[track].",
    )(func)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``).

    Examples:
        >>> flatten({"model": {"hidden_dim": 32, "horizons": [1, 5]}})
        {'model.hidden_dim': 32, 'model.horizons': [1, 5]}
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


class Run:
    """One MLflow run (a thin wrapper: only what the commands log)."""

    def __init__(self, mlflow: Any, run: Any) -> None:
        self.mlflow = mlflow
        self.run = run
        self.id: str = run.info.run_id

    def log_settings(self, settings: dict[str, Any]) -> None:
        """Log the settings (``Settings.to_dict()``) as flattened params."""
        params = {k: "null" if v is None else v for k, v in flatten(settings).items()}
        self.mlflow.log_params(params)

    def log_history(self, history: list[dict[str, Any]]) -> None:
        """Log per-epoch records (``train_loss``, ``val_loss``, ...) as step metrics."""
        for record in history:
            step = int(record.get("epoch", 0))
            values = {
                k: float(v)
                for k, v in record.items()
                if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v)
            }
            self.mlflow.log_metrics(values, step=step)

    def log_scores(self, scores: dict[str, Any], prefix: str) -> None:
        """Log the finite numbers of a nested score dict as metrics (``prefix.h1.mae``)."""
        values = {
            f"{prefix}.{k}": float(v)
            for k, v in flatten(scores).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        }
        if values:
            self.mlflow.log_metrics(values)

    def log_files(self, *paths: str | os.PathLike[str] | None) -> None:
        """Log the files that exist as artifacts (``-``, ``None`` and missing are skipped)."""
        for path in paths:
            if path is not None and str(path) != "-" and os.path.isfile(path):
                self.mlflow.log_artifact(str(path))


@contextlib.contextmanager
def tracked(uri: str | None, experiment: str, name: str) -> Iterator[Run | None]:
    """Run a block inside an MLflow run, or not at all (``uri`` ``None``).

    Args:
        uri: ``None`` (tracking off: MLflow is not imported), ``""`` (the default store)
            or a tracking URI.
        experiment: Experiment name (created when missing).
        name: The run's name.

    Yields:
        The :class:`Run`, or ``None`` when tracking is off.

    Raises:
        click.ClickException: MLflow is not installed, or the store cannot be used.
    """
    if uri is None:
        yield None
        return
    try:
        import mlflow
    except ImportError:
        raise click.ClickException(
            "--track needs MLflow: pip install 'stock-analyzer[track]'"
        ) from None
    target = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    try:
        mlflow.set_tracking_uri(target)
        mlflow.set_experiment(experiment)
        active = mlflow.start_run(run_name=name)
    except Exception as exc:  # MLflow raises many kinds; one line for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise click.ClickException(f"cannot track to {target}: {first}") from None
    status = "FAILED"
    try:
        yield Run(mlflow, active)
        status = "FINISHED"
    finally:
        mlflow.end_run(status=status)
