"""Text tables and the training plot (printing only: no pipeline logic here)."""

from __future__ import annotations

from typing import Any

from finance_demo.text import grid, num, pct

__all__ = ["evaluation_table", "format_info", "plot_training"]


def evaluation_table(evaluation: dict[str, dict[str, Any]]) -> str:
    """Format the test-part evaluation of a model (one block of rows per horizon).

    Args:
        evaluation: ``model.metadata["evaluation"]`` (see ``finance_demo.evaluate``).

    Returns:
        A fixed-width table: metric, model, reference.
    """
    rows = [("metric", "model", "reference")]
    for name, ev in evaluation.items():
        rows.append((f"[{name}] test samples", str(ev.get("samples", "")), ""))
        rows += [
            (
                "MAE (log return)",
                num(ev.get("mae"), ".5f"),
                num(ev.get("mae_persistence"), ".5f") + " persist.",
            ),
            (
                "MAE (price)",
                num(ev.get("price_mae"), ".4f"),
                num(ev.get("price_mae_persistence"), ".4f") + " persist.",
            ),
            (
                "direction accuracy",
                pct(ev.get("direction_accuracy")),
                pct(ev.get("always_up")) + " always-up",
            ),
            (
                "interval coverage",
                pct(ev.get("coverage")),
                pct(ev.get("level")) + " nominal",
            ),
        ]
    return "\n".join(grid(rows))


def format_info(path: str, metadata: dict[str, Any], extra: dict[str, Any]) -> str:
    """Format a model file's metadata for ``stock-analyzer info``.

    Args:
        path: The model file.
        metadata: ``model.metadata``.
        extra: Other facts to show (architecture, versions...).

    Returns:
        Several lines of text.
    """
    lines = [f"model file: {path}"]
    for key in ("symbol", "interval"):
        lines.append(f"{key}: {metadata.get(key)}")
    for section in ("pipeline", "features", "model_settings", "training", "dataset"):
        body = metadata.get(section)
        if isinstance(body, dict):
            items = ", ".join(f"{k}={v}" for k, v in body.items())
            lines.append(f"{section}: {items}")
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    history = metadata.get("history") or []
    if history:
        last = history[-1]
        lines.append(
            f"history: {len(history)} epochs, last train_loss {num(last.get('train_loss'), '.4f')}"
            f", val_loss {num(last.get('val_loss'), '.4f')}"
        )
    evaluation = metadata.get("evaluation")
    if evaluation:
        lines.append("test evaluation:")
        lines.append(evaluation_table(evaluation))
    return "\n".join(lines)


def plot_training(path: str, history: list[dict[str, Any]], test: Any, title: str) -> None:
    """Draw loss curves and test-part predictions with intervals into a PNG.

    Args:
        path: Output PNG file.
        history: Per-epoch records (``train_loss``, ``val_loss``).
        test: DataFrame from ``finance_demo.batch_predict`` restricted to the test part
            and the first horizon (``time``, ``close``, ``predicted_price``,
            ``lower_price``, ``upper_price``, ``realized_return``); its last 250 rows
            are drawn.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5), width_ratios=(1, 2.2))
    epochs = [r["epoch"] for r in history]
    ax1.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
    ax1.plot(epochs, [r["val_loss"] for r in history], marker="o", label="validation")
    ax1.set(xlabel="epoch", ylabel="loss (Gaussian NLL, scaled)", title="loss")
    ax1.legend()
    test = test.iloc[-250:]
    if len(test):
        h = int(test["horizon"].iloc[0])
        actual = test["close"].to_numpy() * np.exp(test["realized_return"].to_numpy())
        t = test["time"]
        ax2.fill_between(t, test["lower_price"], test["upper_price"], alpha=0.25, label="interval")
        ax2.plot(t, actual, lw=1.0, color="black", label=f"actual close (t+{h})")
        ax2.plot(t, test["predicted_price"], lw=1.0, label="predicted")
        ax2.set(title=f"test part (last {len(test)}): {h}-step-ahead predictions", ylabel="price")
        ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
