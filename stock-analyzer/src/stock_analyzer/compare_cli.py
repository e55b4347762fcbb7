"""``stock-analyzer backtest --models lstm,gbdt,...``: several kinds on the same folds.

Parses, calls :func:`finance_demo.compare_models`, prints (``render_compare``). torch is
imported inside the call only, so ``--help`` stays light.
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["backtest_models"]

_ONE_SYMBOL_ONLY = (
    ("symbols", "--symbols"),
    ("watchlist", "--watchlist"),
    ("global_model", "--global"),
    ("plot", "--plot"),
    ("predictions", "--predictions"),
    ("track", "--track"),
)


def _progress(quiet: bool) -> Any:
    from stock_analyzer.cli import _echo_err

    def show(done: int, total: int, info: dict[str, Any]) -> None:
        if quiet:
            return
        maes = "  ".join(f"{k} {v['mae']:.5f}" for k, v in info["models"].items())
        _echo_err(
            f"fold {done}/{total}: test {info['test_start'][:10]} .. {info['test_end'][:10]} "
            f"({info['test_samples']} samples, {info['seconds']:.1f} s)  MAE {maes}  "
            f"persistence {info['mae_persistence']:.5f}"
        )

    return show


def backtest_models(ctx: click.Context, opts: dict[str, Any]) -> None:
    """Run the comparison of ``opts["models"]`` on one symbol and print it.

    Raises:
        click.UsageError: ``--models`` with several symbols, a plot, an export or
            tracking (one line).
        click.BadParameter: A bad kind list (one line).
    """
    from stock_analyzer.cli import (
        _OFFLINE,
        _data_fetcher,
        _dump,
        _echo_err,
        _settings,
        _write_text,
    )
    from stock_analyzer.options import user_errors

    for key, flag in _ONE_SYMBOL_ONLY:
        if opts.get(key):
            raise click.UsageError(f"--models works with one --symbol and without {flag}")
    from finance_demo.compare import check_kinds
    from finance_demo.errors import SettingsError
    from model.errors import MissingExtraError

    try:
        kinds = check_kinds(opts["models"])
    except SettingsError as exc:
        raise click.BadParameter(str(exc), param_hint="--models") from None
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings(ctx, opts)
    data = settings.data
    fetcher = _data_fetcher(data, since=opts["since"])
    with user_errors(_OFFLINE):
        from finance_demo import compare_models, make_engine

        candles = fetcher.fetch_historical()
        _echo_err(
            f"comparing {', '.join(kinds)} on {len(candles)} {data.interval} candles of "
            f"{data.symbol} ({candles.index[0].date()} .. {candles.index[-1].date()}), "
            f"up to {settings.training.epochs} epochs per fold"
        )
        with make_engine(opts["engine"], opts["workers"], opts["ray_address"]) as engine:
            report = compare_models(
                candles,
                settings,
                kinds,
                folds=opts["folds"],
                retrain_every=opts["retrain_every"],
                symbol=data.symbol,
                interval=data.interval,
                progress=_progress(opts["quiet"] or opts["as_json"]),
                engine=engine,
            )
        if report.interrupted:
            _echo_err(
                f"interrupted: writing the report of the {len(report.folds)} of "
                f"{report.folds_planned} folds already finished"
            )
        if opts["report"]:
            _write_text(opts["report"], json.dumps(report.to_dict(), indent=1) + "\n")
    to_stderr = opts["report"] == "-"
    if opts["as_json"]:
        click.echo(_dump(report.to_dict(predictions=False)), nl=False, err=to_stderr)
    else:
        from stock_analyzer.render_compare import comparison_table, comparison_verdict

        click.echo(comparison_table(report), err=to_stderr)
        click.echo(comparison_verdict(report), err=to_stderr)
        click.echo(f"{len(report.folds)} folds in {report.seconds:.0f} s", err=to_stderr)
        if opts["report"] and not to_stderr:
            click.echo(f"saved {opts['report']}")
    if report.interrupted:
        ctx.exit(130)
