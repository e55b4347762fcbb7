"""The ``stock-analyzer`` command line: fetch, train, predict, backtest, info.

Thin on purpose: every command parses options, calls ``data_fetcher`` / ``finance_demo``
/ ``model`` and prints. torch and pandas are imported inside the command bodies only, so
``stock-analyzer --help`` and ``--version`` start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from stock_analyzer import __version__
from stock_analyzer.options import (
    OneLineGroup,
    SourceType,
    config_option,
    merge_settings,
    settings_options,
    user_errors,
)

__all__ = ["cli", "main"]

_TRAIN_SOURCES = SourceType(("yahoo", "sample"), ("csv",))
_LIVE_SOURCES = SourceType(("yahoo", "replay"), ("replay",))
_POSITIVE = click.IntRange(min=1)


def data_options(command: Any) -> Any:
    """Add ``--config`` and the ``data`` settings' flags (fetch, train, backtest)."""
    return config_option(settings_options(("data",), {"source": _TRAIN_SOURCES})(command))


#: The flags of every setting but the data ones (train, backtest), from the schema.
pipeline_options = settings_options(("buffer", "features", "model", "training", "evaluation"))


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _fetcher(symbol: str, **kwargs: Any) -> Any:
    """Build a ``Fetcher``; a bad period, interval or replay point is a bad parameter."""
    from data_fetcher import Fetcher, FetcherError

    try:
        return Fetcher(symbol, **kwargs)
    except ValueError as exc:  # includes DataError: a bad period, interval, replay point
        raise click.BadParameter(str(exc)) from None
    except FetcherError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", package_name="stock-analyzer")
def cli() -> None:
    """Stock price predictions with an LSTM: fetch, train, predict, backtest, info.

    Offline quick start (uses the S&P 500 sample shipped with data-fetcher):

    \b
      stock-analyzer train --source sample --symbol ^GSPC --period max --interval 1d
      stock-analyzer predict --model model.pt --source replay --max-ticks 300
      stock-analyzer backtest --source sample --symbol ^GSPC --period max --folds 5
    """  # noqa: D301 (click's no-rewrap marker is the real backspace character)


@cli.command()
@data_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default="-",
    show_default=True,
    help="CSV file to write ('-' = standard output).",
)
@click.option("--no-cache", is_flag=True, help="Ignore the on-disk cache of Yahoo responses.")
@click.pass_context
def fetch(ctx: click.Context, **opts: Any) -> None:
    """Fetch candles and write them as CSV (shows where they were cached)."""
    data = _settings(ctx, opts).data
    fetcher = _fetcher(
        data.symbol,
        period=data.period,
        interval=data.interval,
        source=data.source,
        use_cache=not opts["no_cache"],
    )
    with user_errors():
        candles = fetcher.fetch_historical()
        if opts["output"] == "-":
            click.echo(candles.to_csv(), nl=False)
        else:
            Path(opts["output"]).parent.mkdir(parents=True, exist_ok=True)
            candles.to_csv(opts["output"])
    source = fetcher.source
    cache = source.cache.directory if getattr(source, "use_cache", False) else None
    _echo_err(
        f"{len(candles)} {data.interval} candles of {data.symbol} from {candles.index[0]} "
        f"to {candles.index[-1]} (source {data.source}"
        + (f", cache {cache}" if cache else "")
        + ")"
        + ("" if opts["output"] == "-" else f" -> {opts['output']}")
    )


def _settings(ctx: click.Context, opts: dict[str, Any]) -> Any:
    """Merge ``--config`` with the flags given (flag > file > default) into ``Settings``."""
    settings = merge_settings(ctx, opts)
    if not settings.data.symbol:
        raise click.UsageError("Missing option '--symbol' (or data.symbol in --config).")
    return settings


class _Progress:
    """Progress on stderr: a bar on a terminal, one line per step otherwise."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.bar = None

    def show(self, step: int, total: int, text: str) -> None:
        if self.quiet:
            return
        if not sys.stderr.isatty():
            _echo_err(text)
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.label = text if len(text) < 60 else f"{self.label} {step}/{total}"
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


class _EpochProgress(_Progress):
    def __call__(self, epoch: int, epochs: int, record: dict[str, Any]) -> None:
        self.show(
            epoch,
            epochs,
            f"epoch {epoch}/{epochs}  train_loss {record['train_loss']:.4f}  "
            f"val_loss {record['val_loss']:.4f}  ({record.get('seconds', 0):.1f} s)",
        )


@cli.command()
@data_options
@pipeline_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default="model.pt",
    show_default=True,
    help="Model file; the training history goes beside it (<name>.history.json).",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG of losses and test predictions.")
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress.")
@click.pass_context
def train(ctx: click.Context, **opts: Any) -> None:
    """Train an LSTM on a history and evaluate it on the held-out last part."""
    from finance_demo import batch_predict, train_model

    settings = _settings(ctx, opts)
    data = settings.data
    output = Path(opts["output"])
    fetcher = _fetcher(data.symbol, period=data.period, interval=data.interval, source=data.source)
    with user_errors():
        candles = fetcher.fetch_historical()
        _echo_err(
            f"training on {len(candles)} {data.interval} candles of {data.symbol} "
            f"({candles.index[0].date()} .. {candles.index[-1].date()}), "
            f"up to {settings.training.epochs} epochs"
        )
        progress = _EpochProgress("training", opts["quiet"])
        try:
            model = train_model(candles, settings, data.symbol, data.interval, progress=progress)
        finally:
            progress.close()
        output.parent.mkdir(parents=True, exist_ok=True)
        model.save(output)
        meta = model.metadata
        history_path = output.with_name(output.stem + ".history.json")
        history_path.write_text(
            json.dumps({"history": meta["history"], "evaluation": meta["evaluation"]}, indent=2)
            + "\n",
            encoding="utf-8",
        )
        if opts["plot"]:
            from stock_analyzer.report import plot_training

            preds = batch_predict(model, candles)
            start = meta["dataset"]["test_start"]
            h0 = settings.model.horizons[0]
            test = preds[(preds["horizon"] == h0) & preds["realized_return"].notna()]
            if start is not None:
                test = test[test["time"] >= start]
            Path(opts["plot"]).parent.mkdir(parents=True, exist_ok=True)
            plot_training(opts["plot"], meta["history"], test, f"{data.symbol} {data.interval}")
    from stock_analyzer.report import evaluation_table

    ds = meta["dataset"]
    click.echo(
        f"held-out test part: {ds['test']} samples from {str(ds['test_start'])[:10]} "
        f"(train {ds['train']}, validation {ds['val']})"
    )
    click.echo(evaluation_table(meta["evaluation"]))
    click.echo(
        f"saved {output} and {history_path}" + (f" and {opts['plot']}" if opts["plot"] else "")
    )


def _default_period(interval: str) -> str:
    """Enough warm-up history for the window sizes, within Yahoo's limits per interval."""
    if interval in ("1m", "2m", "5m"):
        return "5d"
    if interval in ("15m", "30m"):
        return "1mo"
    if interval in ("60m", "90m", "1h"):
        return "3mo"
    return "2y"


def _replay_start(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        import pandas as pd

        try:
            return pd.Timestamp(value)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is neither a candle position nor a date", param_hint="--replay-start"
            ) from None


def _print_record(record: dict[str, Any]) -> None:
    if record["type"] != "prediction":
        return
    click.echo(
        f"{record['time'][:19]}  close {record['close']:.2f}  h{record['horizon']} -> "
        f"{record['predicted_price']:.2f} [{record['lower_price']:.2f}, "
        f"{record['upper_price']:.2f}]  ({record['predicted_return']:+.3%})"
    )


@cli.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Model file written by 'train'.",
)
@click.option("--symbol", help="Ticker (default: the model's).")
@click.option("--interval", help="Candle interval (default and only allowed: the model's).")
@click.option("--period", help="Warm-up history for live sources (default by interval).")
@click.option(
    "--source",
    type=_LIVE_SOURCES,
    default="yahoo",
    show_default=True,
    help="Live Yahoo polling, or the sample (or a CSV) replayed as a feed with no waiting.",
)
@click.option(
    "--replay-start", help="Replay from this candle position or date (default: last 15%)."
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds between polls of a live source.",
)
@click.option("--max-ticks", type=_POSITIVE, help="Stop after this many new candles.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="JSONL prediction log.")
@click.option(
    "--recalibrate",
    type=_POSITIVE,
    metavar="N",
    help="Roll the interval calibration over the last N realized outcomes (default: keep "
    "the calibration from training).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def predict(**opts: Any) -> None:
    """Run the live loop: poll candles, predict, log, and score realized outcomes."""
    from finance_demo import Activator, System

    from model import Model

    with user_errors():
        model = Model.load(opts["model_path"])
        system = System(model)  # refuses a model file 'train' did not write
        meta = model.metadata or {}
        interval = opts["interval"] or meta.get("interval") or "1d"
        symbol = opts["symbol"] or meta.get("symbol")
        if not symbol:
            raise click.UsageError("Missing option '--symbol' (the model records none).")
        replay = opts["source"].startswith("replay")
        fetcher = _fetcher(
            symbol,
            period="max" if replay else (opts["period"] or _default_period(interval)),
            interval=interval,
            source=opts["source"],
            replay_start=_replay_start(opts["replay_start"]),
        )
        activator = Activator(
            fetcher,
            system,
            poll_interval=opts["poll_interval"],
            max_ticks=opts["max_ticks"],
            log=opts["log_path"],
            echo=_echo_err,
            on_record=None if opts["quiet"] else _print_record,
            recalibrate=opts["recalibrate"],
        )
        summary = activator.execute()
    click.echo(summary.format())


class _FoldProgress(_Progress):
    def __call__(self, fold: int, folds: int, info: dict[str, Any]) -> None:
        self.show(
            fold,
            folds,
            f"fold {fold}/{folds}: test {info['test_start'][:10]} .. {info['test_end'][:10]} "
            f"({info['test_samples']} samples, trained on {info['train_samples']}, "
            f"{info['epochs_run']} epochs, {info['seconds']:.1f} s)  MAE {info['mae']:.5f} "
            f"vs persistence {info['mae_persistence']:.5f}",
        )


@cli.command()
@data_options
@pipeline_options
@click.option("--since", help="Drop the candles before this date (e.g. 1990-01-01).")
@click.option("--folds", type=_POSITIVE, help="Out-of-sample blocks.  [default: 5]")
@click.option("--retrain-every", type=_POSITIVE, help="Samples per block instead of --folds.")
@click.option("--report", type=click.Path(dir_okay=False), help="JSON report file.")
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG: predictions, cumulative error.")
@click.option("--quiet", "-q", is_flag=True, help="No per-fold progress.")
@click.pass_context
def backtest(ctx: click.Context, **opts: Any) -> None:
    """Walk-forward backtest: retrain on an expanding window, score against baselines."""
    from finance_demo import backtest as run_backtest

    if opts["folds"] is not None and opts["retrain_every"] is not None:
        raise click.UsageError("--folds and --retrain-every are mutually exclusive")
    settings = _settings(ctx, opts)
    data = settings.data
    since = None
    if opts["since"]:
        import pandas as pd

        try:
            since = pd.Timestamp(opts["since"])
        except ValueError:
            raise click.BadParameter(
                f"{opts['since']!r} is not a date", param_hint="--since"
            ) from None
    fetcher = _fetcher(data.symbol, period=data.period, interval=data.interval, source=data.source)
    with user_errors():
        candles = fetcher.fetch_historical()
        if since is not None:
            if since.tzinfo is None and candles.index.tz is not None:
                since = since.tz_localize(candles.index.tz)
            candles = candles[candles.index >= since]
            if candles.empty:
                raise click.BadParameter(
                    f"no candle on or after {opts['since']}", param_hint="--since"
                )
        _echo_err(
            f"backtest on {len(candles)} {data.interval} candles of {data.symbol} "
            f"({candles.index[0].date()} .. {candles.index[-1].date()}), "
            f"up to {settings.training.epochs} epochs per fold"
        )
        progress = _FoldProgress("backtest", opts["quiet"])
        try:
            report = run_backtest(
                candles,
                settings,
                folds=opts["folds"],
                retrain_every=opts["retrain_every"],
                symbol=data.symbol,
                interval=data.interval,
                progress=progress,
            )
        finally:
            progress.close()
        written = []
        if opts["report"]:
            Path(opts["report"]).parent.mkdir(parents=True, exist_ok=True)
            Path(opts["report"]).write_text(
                json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8"
            )
            written.append(opts["report"])
        if opts["plot"]:
            Path(opts["plot"]).parent.mkdir(parents=True, exist_ok=True)
            report.plot(opts["plot"])
            written.append(opts["plot"])
    click.echo(report.format_table())
    click.echo(f"{len(report.folds)} folds in {report.seconds:.0f} s")
    if written:
        click.echo("saved " + " and ".join(written))


@cli.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def info(model_path: str, as_json: bool) -> None:
    """Show a model file's metadata: symbol, interval, settings, test evaluation."""
    # Only the file's JSON header is read (``model.read_header``): no torch, no tensors, and
    # not ``user_errors`` either (it imports data_fetcher, hence pandas: 0.6 s).
    from model import ModelError, read_header
    from stock_analyzer.report import format_info

    try:
        header = read_header(model_path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    meta = dict(header.metadata)
    if "history" not in meta and header.training.get("history"):
        meta["history"] = header.training["history"]
    network, versions = header.config.to_dict(), dict(header.versions)
    if as_json:
        body = {"metadata": meta, "created": header.created, "network": network}
        click.echo(json.dumps({**body, "versions": versions}, indent=2, default=str))
    else:
        extra = {
            "created": header.created,
            "network": ", ".join(f"{k}={v}" for k, v in network.items()),
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        }
        click.echo(format_info(model_path, meta, extra))


def main() -> None:
    """Entry point of the ``stock-analyzer`` executable."""
    cli(prog_name="stock-analyzer")
