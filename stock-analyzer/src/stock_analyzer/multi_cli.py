"""Several symbols on the command line: ``train --symbols [--global]``, ``backtest --global``.

Kept out of ``stock_analyzer.cli`` (which dispatches here when ``--symbols`` or
``--watchlist`` is given); like it, torch and pandas are imported inside the functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stock_analyzer.options import merge_settings, user_errors

__all__ = ["backtest_global_command", "per_symbol", "predict_many", "symbols_of", "train_many"]

_OFFLINE = "offline? --source sample uses the candles shipped with data-fetcher"


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def symbols_of(opts: dict[str, Any]) -> list[str]:
    """The symbols of ``--symbols A,B`` or ``--watchlist FILE`` (checked, in order).

    Raises:
        click.UsageError: Both given.
        SettingsError: A bad, repeated or missing symbol (one line through user_errors).
    """
    if opts["symbols"] and opts["watchlist"]:
        raise click.UsageError("--symbols and --watchlist are mutually exclusive")
    from finance_demo import read_watchlist
    from finance_demo.multi import _check_symbols

    if opts["watchlist"]:
        return read_watchlist(opts["watchlist"])
    return list(_check_symbols(opts["symbols"]))


def _fetch_all(symbols: list[str], data: Any, quiet: bool) -> tuple[dict[str, Any], list]:
    """Each symbol's candles; a symbol that fails is reported, not fatal (all failing is)."""
    from stock_analyzer.cli import _fetcher

    candles, errors = {}, []
    for symbol in symbols:
        try:
            fetcher = _fetcher(
                symbol,
                period=data.period,
                interval=data.interval,
                source=data.source,
                adjust_splits=data.adjust_splits,
            )
            candles[symbol] = fetcher.fetch_historical()
        except Exception as exc:  # one line per failed symbol
            from finance_demo.multi import _one_line

            reason = exc.format_message() if isinstance(exc, click.ClickException) else None
            errors.append({"symbol": symbol, "error": reason or _one_line(exc)})
            continue
        if not quiet:
            c = candles[symbol]
            _echo_err(
                f"{symbol}: {len(c)} {data.interval} candles "
                f"({c.index[0].date()} .. {c.index[-1].date()})"
            )
    if not candles:
        raise click.ClickException(
            "no symbol could be fetched: "
            + "; ".join(f"{e['symbol']}: {e['error']}" for e in errors)
        )
    return candles, errors


def per_symbol(
    job: Any, symbols: list[str], opts: dict[str, Any], settings: Any, verb: str, **kwargs: Any
) -> Any:
    """``finance_demo.run_symbols(job, ...)`` on the ``--engine``, one progress line each.

    The job gets the settings and the data section's source, period and interval, plus
    ``kwargs``; returns the ``MultiResult``.
    """
    from finance_demo import make_engine, run_symbols

    quiet = opts["quiet"] or opts["as_json"]
    data = settings.data

    def done(n: int, total: int, symbol: str, ok: bool) -> None:
        if not quiet:
            _echo_err(f"symbol {n}/{total}: {symbol} {verb if ok else 'FAILED'}")

    with make_engine(opts["engine"], opts["workers"], opts["ray_address"]) as engine:
        return run_symbols(
            job,
            symbols,
            engine,
            progress=done,
            settings=settings,
            source=data.source,
            period=data.period,
            interval=data.interval,
            **kwargs,
        )


def _finish(
    ctx: click.Context, opts: dict[str, Any], body: dict[str, Any], text: str, errors: list
) -> None:
    if opts["as_json"]:
        click.echo(json.dumps(body, indent=2, default=str, allow_nan=False))
    else:
        click.echo(text)
    if errors:
        ctx.exit(1)


def train_many(ctx: click.Context, opts: dict[str, Any], progress: Any) -> None:
    """``train --symbols A,B`` (one model each) or ``train --symbols A,B --global``."""
    from stock_analyzer.models_cli import open_registry
    from stock_analyzer.render_multi import trained_table

    for flag in ("plot", "predictions", "track"):
        if opts[flag]:
            raise click.UsageError(f"--{flag} works with one --symbol, not with several")
    if not opts["global_model"] and opts["output"]:
        raise click.UsageError(
            "--output names one model file: with several symbols use --global (one model "
            "for all) or let each model go to the registry"
        )
    if not opts["global_model"] and not opts["register"]:
        raise click.UsageError("several per-symbol models need the registry (drop --no-register)")
    settings = merge_settings(ctx, opts)
    data = settings.data
    quiet = opts["quiet"] or opts["as_json"]
    written: list[str] = []
    with user_errors(_OFFLINE):
        symbols = symbols_of(opts)
        registry = open_registry(opts["registry"]) if opts["register"] else None
        if opts["global_model"]:
            from finance_demo import train_global

            candles, errors = _fetch_all(symbols, data, quiet)
            if not quiet:
                _echo_err(
                    f"training one global {opts['kind']} on {len(candles)} symbols, up to "
                    f"{settings.training.epochs} epochs"
                )
            try:
                model = train_global(
                    candles,
                    settings,
                    interval=data.interval,
                    kind=opts["kind"],
                    embedding=opts["embedding"],
                    progress=progress,
                )
            finally:
                progress.close()
            output = Path(opts["output"]) if opts["output"] else None
            if output is None and registry is None:
                output = Path("model.safetensors")
            if output is not None:
                output.parent.mkdir(parents=True, exist_ok=True)
                model.save(output)
                written.append(str(output))
            entry = registry.add(output if output is not None else model) if registry else None
            evaluations = model.metadata["evaluation"]
            ids = {s: entry.id for s in evaluations} if entry is not None else {}
            if entry is not None:
                written.append(str(entry.path))
        else:
            from finance_demo import train_symbol

            result = per_symbol(train_symbol, symbols, opts, settings, "trained", kind=opts["kind"])
            errors = list(result.errors)
            evaluations, ids = {}, {}
            for symbol, model in result.results.items():
                entry = registry.add(model)
                evaluations[symbol] = model.metadata["evaluation"]
                ids[symbol] = entry.id
                written.append(str(entry.path))
    body = {"files": written, "model_ids": ids, "evaluation": evaluations, "errors": errors}
    text = trained_table(evaluations, ids, errors)
    if written:
        text += "\nsaved " + " and ".join(written)
    _finish(ctx, opts, body, text, errors)


def backtest_global_command(ctx: click.Context, opts: dict[str, Any]) -> None:
    """``backtest --symbols A,B --global``: a global model per fold beside per-symbol ones."""
    from stock_analyzer.cli import _write_text
    from stock_analyzer.render_multi import global_backtest_table

    if opts["retrain_every"] is not None:
        raise click.UsageError(
            "--global runs --folds on one calendar; --retrain-every is per symbol"
        )
    for flag in ("plot", "predictions", "track", "since"):
        if opts[flag]:
            raise click.UsageError(f"--{flag} works with one --symbol, not with --global")
    settings = merge_settings(ctx, opts)
    quiet = opts["quiet"] or opts["as_json"]
    with user_errors(_OFFLINE):
        from finance_demo import backtest_global, make_engine

        symbols = symbols_of(opts)
        candles, errors = _fetch_all(symbols, settings.data, quiet)

        def fold_done(done: int, total: int, info: dict[str, Any]) -> None:
            if not quiet:
                _echo_err(f"fold {done}/{total} done (fold {info['fold']})")

        with make_engine(opts["engine"], opts["workers"], opts["ray_address"]) as engine:
            result = backtest_global(
                candles,
                settings,
                folds=opts["folds"],
                embedding=opts["embedding"],
                engine=engine,
                progress=fold_done,
            )
        errors += result.errors
        body = {**result.to_dict(), "errors": errors}
        if opts["report"]:
            _write_text(opts["report"], json.dumps(body, indent=1) + "\n")
    to_stderr = opts["report"] == "-"
    if opts["as_json"]:
        click.echo(json.dumps(body, indent=2, allow_nan=False), err=to_stderr)
    else:
        click.echo(global_backtest_table(result, errors), err=to_stderr)
        click.echo(f"{result.folds} folds in {result.seconds:.0f} s", err=to_stderr)
    if errors:
        ctx.exit(1)


def _models_of(opts: dict[str, Any], symbols: list[str]) -> dict[str, Any]:
    """``symbol -> model``: ``--model`` bound to each symbol, else each one's latest."""
    from finance_demo import bind_symbol

    from model import load_forecaster
    from stock_analyzer.models_cli import open_registry

    ref = opts["model_path"]
    if ref is not None:
        if not Path(ref).is_file():
            ref = open_registry(opts["registry"]).resolve(ref)
        model = load_forecaster(ref)
        return {s: bind_symbol(model, s) for s in symbols}
    registry = open_registry(opts["registry"])
    found = {s: registry.latest(s, opts["interval"]) for s in symbols}
    missing = [s for s, entry in found.items() if entry is None]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise click.ClickException(
            f"no registered model for {shown}: 'stock-analyzer train --symbols "
            f"{','.join(missing[:3])}{',...' if len(missing) > 3 else ''}' (or --model a "
            "global one)"
        )
    return {s: load_forecaster(entry.path) for s, entry in found.items()}


def predict_many(opts: dict[str, Any], on_record: Any) -> Any:
    """``predict --symbols A,B`` / ``--watchlist FILE``: one live loop over all of them.

    Returns:
        The ``MultiSummary``.
    """
    import sys

    from stock_analyzer.cli import _OFFLINE_LIVE, _replay_start

    if opts["symbol"]:
        raise click.UsageError("--symbol and --symbols/--watchlist are mutually exclusive")
    with user_errors(_OFFLINE_LIVE):
        from data_fetcher import FetcherError, MultiFetcher
        from finance_demo import spec_of
        from finance_demo.multi_live import MultiActivator, MultiSystem

        symbols = symbols_of(opts)
        models = _models_of(opts, symbols)
        system = MultiSystem(models)
        intervals = {spec_of(m).interval or "1d" for m in models.values()}
        if len(intervals) > 1:
            raise click.UsageError(
                f"the models were trained on {', '.join(sorted(intervals))} candles: one "
                "live loop polls one interval"
            )
        interval = intervals.pop()
        if opts["interval"] and opts["interval"] != interval:
            raise click.BadParameter(
                f"the models were trained on {interval} candles; use --interval {interval}",
                param_hint="'--interval'",
            )
        try:
            fetcher = MultiFetcher(
                symbols,
                period=opts["period"],
                interval=interval,
                source=opts["source"],
                replay_start=_replay_start(opts["replay_start"]),
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        except FetcherError as exc:
            raise click.ClickException(str(exc)) from None
        to_stdout = opts["log_path"] == "-"
        activator = MultiActivator(
            fetcher,
            system,
            poll_interval=opts["poll_interval"],
            max_ticks=opts["max_ticks"],
            log=sys.stdout if to_stdout else opts["log_path"],
            echo=_echo_err,
            on_record=on_record,
            recalibrate=opts["recalibrate"],
        )
        return activator.execute()
