"""``stock-analyzer forecast``: the forecast now, from the latest completed candles.

The logic is ``finance_demo.forecast`` (the forecast, the regime rule) and
``finance_demo.forecast.ensure_model`` (the latest model, trained when asked); this module
parses the options and prints. torch and pandas are imported inside the command only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stock_analyzer.models_cli import Duration, ModelRef, open_registry, registry_option
from stock_analyzer.options import (
    FiniteFloat,
    SourceType,
    config_option,
    symbol_list_options,
    user_errors,
)

__all__ = ["forecast"]

_SOURCES = SourceType(("yahoo", "sample", "replay"), ("csv", "replay"))
_OFFLINE = "offline? --source sample or --source replay use the candles shipped with data-fetcher"


@click.command()
@click.option("--symbol", help="Ticker (default: the --model's).")
@click.option(
    "--model",
    "model_ref",
    type=ModelRef(),
    help="A registered model's id or a model file  [default: the latest registered model "
    "of --symbol and --interval]",
)
@click.option(
    "--interval",
    help="Candle interval (default: the model's; for the latest model, the newest of any "
    "interval, else 1d).",
)
@click.option(
    "--source",
    type=_SOURCES,
    default="yahoo",
    show_default=True,
    help="Where the candles come from; sample and replay work offline (replay: the "
    "candles before its replay point).",
)
@click.option("--period", help="History to fetch (default: the source's).")
@click.option(
    "--level",
    type=FiniteFloat(min=0.0, max=1.0, min_open=True, max_open=True),
    help="Interval level, e.g. 0.8  [default: the model's]",
)
@click.option(
    "--auto-train",
    is_flag=True,
    help="Train and register a model (default settings, or --config) when none exists.",
)
@click.option(
    "--max-age",
    type=Duration(),
    help="A latest model older than this (24h, 7d...) is retrained with --auto-train, "
    "else refused.",
)
@symbol_list_options(
    "Several symbols (A,B,C): one forecast each (a global --model for all, else each one's "
    "latest model); a failing symbol is one line and the others still print."
)
@config_option
@registry_option
@click.option("--json", "as_json", is_flag=True, help="Print the forecast as JSON.")
@click.pass_context
def forecast(ctx: click.Context, **opts: Any) -> None:
    """Forecast every horizon now: return, price, interval, direction, regime.

    The regime is named from the model's own outputs: volatile when the first horizon's
    predicted sigma is above 1.5x its median over the last 100 predictions; else trending
    up / down when the longest horizon's predicted mean is above +0.25 / below -0.25 of
    its sigma; else ranging.
    """
    if opts["max_age"] is not None and opts["model_ref"] is not None:
        raise click.UsageError("--max-age applies to the latest model, not to --model")
    if opts["symbols"] or opts["watchlist"]:
        _forecast_many(ctx, opts)
        return
    if opts["model_ref"] is None and not opts["symbol"]:
        raise click.UsageError("Missing option '--symbol' (or --model).")
    with user_errors(_OFFLINE):
        body = _forecast_one(ctx, opts, opts["symbol"])
    if opts["as_json"]:
        click.echo(json.dumps(body, indent=2, default=str, allow_nan=False))
        return
    from stock_analyzer.render_models import forecast_text

    click.echo(forecast_text(body))


def _forecast_many(ctx: click.Context, opts: dict[str, Any]) -> None:
    """``forecast --symbols A,B``: one forecast per symbol, one table (or JSON list)."""
    from finance_demo.multi import _one_line

    from stock_analyzer.multi_cli import symbols_of
    from stock_analyzer.render_multi import forecasts_table

    if opts["symbol"]:
        raise click.UsageError("--symbol and --symbols/--watchlist are mutually exclusive")
    with user_errors(_OFFLINE):
        symbols = symbols_of(opts)
    bodies, errors = {}, []
    for symbol in symbols:
        try:
            with user_errors(_OFFLINE):
                bodies[symbol] = _forecast_one(ctx, opts, symbol)
        except click.ClickException as exc:
            errors.append({"symbol": symbol, "error": exc.format_message()})
        except Exception as exc:  # one line per failed symbol; the others still print
            errors.append({"symbol": symbol, "error": _one_line(exc)})
    if opts["as_json"]:
        body = {"forecasts": list(bodies.values()), "errors": errors}
        click.echo(json.dumps(body, indent=2, default=str, allow_nan=False))
    else:
        click.echo(forecasts_table(list(bodies.values()), errors))
    if errors:
        ctx.exit(1)


def _forecast_one(ctx: click.Context, opts: dict[str, Any], wanted: str | None) -> dict:
    """One symbol's forecast body (``Forecast.to_dict()`` and ``trained``)."""
    fetched: dict[str, Any] = {}

    def candles(symbol: str, interval: str) -> Any:
        if "candles" not in fetched:
            from stock_analyzer.cli import _fetcher

            fetcher = _fetcher(
                symbol, period=opts["period"], interval=interval, source=opts["source"]
            )
            fetched["candles"] = fetcher.fetch_historical()
        return fetched["candles"]

    from finance_demo import bind_symbol, spec_of
    from finance_demo.forecast import completed_candles, ensure_model
    from finance_demo.forecast import forecast as run_forecast

    from model import load_forecaster

    trained, label, ref = False, None, opts["model_ref"]
    registry = None
    if ref is not None and Path(ref).is_file():
        path, label = Path(ref), str(ref)
    elif ref is not None:
        registry = open_registry(opts["registry"])
        path = registry.resolve(ref)
        label = path.stem
    else:
        registry = open_registry(opts["registry"])
        symbol = wanted
        interval = opts["interval"]
        if interval is None:
            latest = registry.latest(symbol)
            interval = (latest.interval if latest else None) or "1d"
        settings = None
        if opts["auto_train"]:
            from stock_analyzer.options import merge_settings

            settings = merge_settings(ctx, {})
        entry, trained = ensure_model(
            registry,
            symbol,
            interval,
            lambda: candles(symbol, interval),
            settings=settings,
            auto_train=opts["auto_train"],
            max_age=opts["max_age"],
        )
        if trained:
            click.echo(f"trained and registered {entry.id}", err=True)
        path, label = entry.path, entry.id
    model = bind_symbol(load_forecaster(path), wanted)  # a global model: one symbol
    spec = spec_of(model)
    interval = spec.interval or opts["interval"] or "1d"
    if opts["interval"] and opts["interval"] != interval:
        raise click.BadParameter(
            f"the model was trained on {interval} candles; use --interval {interval}",
            param_hint="'--interval'",
        )
    symbol = wanted or spec.symbol
    if not symbol:
        raise click.UsageError("Missing option '--symbol' (the model records none).")
    history = completed_candles(candles(symbol, interval), interval)
    result = run_forecast(model, history, opts["level"], symbol=symbol, label=label)
    return {**result.to_dict(), "trained": trained}
