"""``stock-analyzer tune``: search settings by walk-forward validation (Optuna).

Thin like the other commands: it parses options, calls :func:`finance_demo.tune` and
prints. Optuna, torch and pandas are imported inside the command body only, so
``stock-analyzer tune --help`` imports none of them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from stock_analyzer.options import (
    FiniteFloat,
    SourceType,
    config_option,
    merge_settings,
    settings_options,
    user_errors,
)

__all__ = ["tail_table", "tune"]

_INSTALL = "pip install 'finance-demo[tune]'"
_OFFLINE = "offline? --source sample uses the candles shipped with data-fetcher"


def _load_space(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Validate the ``--space`` file at parse time (a bad key is a usage error, exit 2)."""
    if value is None or ctx.resilient_parsing:
        return None
    from finance_demo import SettingsError, load_space_file

    try:
        return load_space_file(value)
    except SettingsError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _short(key: str) -> str:
    return key.partition(".")[2]


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _trial_line(k: int, total: int, info: dict[str, Any]) -> str:
    params = " ".join(f"{_short(key)}={_value(v)}" for key, v in info["params"].items())
    best = info.get("best")
    best_text = "n/a" if best is None else f"{best:.6f}"
    seconds = info.get("seconds")
    took = "" if seconds is None else f"  ({seconds:.1f} s)"
    if info["state"] == "complete":
        head = f"trial {k}/{total}: MAE {info['value']:.6f}  best {best_text}"
    else:
        reason = (info.get("reason") or "").strip()
        reason = reason if len(reason) <= 100 else reason[:97] + "..."
        head = f"trial {k}/{total}: {info['state']} ({reason})  best {best_text}"
    return f"{head}  {params}{took}"


def tail_table(result: Any) -> str:
    """The held-out tail's scores: best vs default settings vs persistence, per horizon.

    Args:
        result: A ``finance_demo.TuneResult``.

    Returns:
        A fixed-width table.
    """
    from stock_analyzer.render import grid, num, pct

    tail = result.tail
    rows = [("metric", "best", "default", "persistence")]
    for name, best in tail["best"].items():
        base, persist = tail["default"][name], tail["persistence"][name]
        p_mae = persist["mae"]
        rows.append((f"[{name}] tail samples", str(best.get("samples", "")), "", ""))
        rows.append(
            (
                "MAE (log return)",
                num(best["mae"], ".6f"),
                num(base["mae"], ".6f"),
                num(p_mae, ".6f"),
            )
        )
        rows.append(
            (
                "skill vs persistence",
                pct(1 - best["mae"] / p_mae),
                pct(1 - base["mae"] / p_mae),
                pct(0.0),
            )
        )
        rows.append(
            (
                "direction accuracy",
                pct(best.get("direction_accuracy")),
                pct(base.get("direction_accuracy")),
                pct(best.get("always_up")) + " always-up",
            )
        )
        rows.append(
            (
                "interval coverage",
                pct(best.get("coverage")),
                pct(base.get("coverage")),
                pct(best.get("level")) + " nominal",
            )
        )
    return "\n".join(grid(rows))


def _summary(result: Any) -> str:
    from stock_analyzer.render import grid

    info = result.info
    done = [t for t in result.trials if t["state"] == "complete"]
    lines = [
        f"best of {len(result.trials)} trials ({len(done)} complete): trial "
        f"{result.best_trial}, walk-forward MAE {result.best_value:.6f} over {info['folds']} "
        f"folds from {info['fold_starts'][0][:10]} (persistence {result.persistence_value:.6f}"
        + (
            ""
            if result.base_value is None
            else f", default settings {result.base_value:.6f} as trial 0"
        )
        + ")"
    ]
    rows = [("setting", "best", "default")]
    base = result.base_settings
    for key, value in result.best_params.items():
        section, _, name = key.partition(".")
        rows.append((key, _value(value), _value(getattr(getattr(base, section), name))))
    lines += grid(rows)
    lines.append(
        f"held-out tail: the last {info['tail_candles']} candles, from {info['tail_start'][:10]} "
        f"(never seen by the search; each model trained on the {info['search_candles']} "
        "candles before it)"
    )
    lines.append(tail_table(result))
    return "\n".join(lines)


@click.command()
@config_option
@settings_options(
    ("data", "buffer", "features", "model", "training", "evaluation"),
    {"source": SourceType(("yahoo", "sample"), ("csv",))},
)
@click.option(
    "--space",
    type=click.Path(exists=True, dir_okay=False),
    callback=_load_space,
    help="YAML search space: section.name -> {int: [lo, hi]} | {float: [lo, hi]} | "
    "{choice: [...]}, optional log: true, step: N (default: the one of "
    "examples/search.yaml).",
)
@click.option(
    "--trials",
    required=True,
    type=click.IntRange(1, 10_000),
    help="Trials the study should have in all (a resumed study runs the missing ones).",
)
@click.option(
    "--folds",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Walk-forward folds per trial.",
)
@click.option(
    "--holdout",
    type=FiniteFloat(min=0.0, max=0.5, min_open=True),
    default=0.15,
    show_default=True,
    help="Share of the candles at the end that the search never sees (scored once).",
)
@click.option(
    "--storage",
    metavar="URL",
    help="Optuna storage to keep the study in, e.g. sqlite:///tune.db (resumable).",
)
@click.option(
    "--study", "study_name", metavar="NAME", help="Study name in --storage.  [default: tune]"
)
@click.option(
    "--sampler-seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the TPE sampler (the training seed is --seed).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Trials run at once, in threads (results then depend on timing).",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="YAML settings file of the best trial, for --config (written atomically).",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-trial progress.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of text."
)
@click.pass_context
def tune(ctx: click.Context, **opts: Any) -> None:
    """Search settings by walk-forward validation, then score the best on a held-out tail.

    Each trial trains on an expanding window of the search part (the candles before the
    tail) and is scored by its mean out-of-sample MAE; invalid combinations are pruned.
    The best settings and the base ones (--config, flags, defaults) are then trained on
    everything before the tail and scored on it, beside persistence. Ctrl-C stops the
    search; with --storage, rerunning the same command resumes it.
    """
    settings = merge_settings(ctx, opts)
    data = settings.data
    if not data.symbol:
        raise click.UsageError("Missing option '--symbol' (or data.symbol in --config).")
    if opts["output"] == "-":
        raise click.BadParameter("the settings file needs a path, not '-'", param_hint="'--output'")
    try:
        import optuna
    except ImportError:
        raise click.ClickException(f"tune needs Optuna: {_INSTALL}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from data_fetcher import Fetcher, FetcherError

    try:
        fetcher = Fetcher(
            data.symbol,
            period=data.period,
            interval=data.interval,
            source=data.source,
            adjust_splits=data.adjust_splits,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except FetcherError as exc:
        raise click.ClickException(str(exc)) from None
    quiet = opts["quiet"] or opts["as_json"]

    def progress(k: int, total: int, info: dict[str, Any]) -> None:
        if not quiet:
            click.echo(_trial_line(k, total, info), err=True)

    with user_errors(_OFFLINE):
        from finance_demo import atomic_write
        from finance_demo import tune as run_tune

        candles = fetcher.fetch_historical()
        if not quiet:
            click.echo(
                f"tuning on {len(candles)} {data.interval} candles of {data.symbol} "
                f"({candles.index[0].date()} .. {candles.index[-1].date()}): {opts['trials']} "
                f"trials x {opts['folds']} folds, up to {settings.training.epochs} epochs each",
                err=True,
            )
        try:
            result = run_tune(
                candles,
                settings,
                opts["space"],
                opts["trials"],
                folds=opts["folds"],
                holdout=opts["holdout"],
                seed=opts["sampler_seed"],
                storage=opts["storage"],
                study_name=opts["study_name"],
                progress=progress,
                n_jobs=opts["jobs"],
            )
        except KeyboardInterrupt:
            where = (
                f"the finished trials are in {opts['storage']}: rerun the same command to resume"
                if opts["storage"]
                else "nothing kept (give --storage to make a search resumable)"
            )
            click.echo(f"interrupted: {where}", err=True)
            ctx.exit(130)
        except optuna.exceptions.StorageInternalError as exc:
            raise click.ClickException(f"storage {opts['storage']}: {exc}") from None
        atomic_write(opts["output"], result.to_yaml())
    if opts["as_json"]:
        body = {**result.to_dict(), "output": opts["output"]}
        click.echo(json.dumps(body, indent=2, default=str, allow_nan=False))
        return
    click.echo(_summary(result))
    click.echo(f"{len(result.trials)} trials in {result.info['seconds']:.0f} s")
    click.echo(f"saved {opts['output']} (use it as --config)")
    sys.stdout.flush()
