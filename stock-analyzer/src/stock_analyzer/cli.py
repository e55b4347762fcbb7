"""The ``stock-analyzer`` command line: fetch, train, predict, backtest, info.

Thin on purpose: every command parses options, calls ``data_fetcher`` / ``finance_demo``
/ ``model`` and prints. torch and pandas are imported inside the command bodies only, so
``stock-analyzer --help`` and ``--version`` start fast.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from stock_analyzer import __version__
from stock_analyzer.forecast_cli import forecast as forecast_command
from stock_analyzer.models_cli import ModelRef, models, open_registry, registry_option
from stock_analyzer.options import (
    FiniteFloat,
    OneLineGroup,
    SourceType,
    config_option,
    merge_settings,
    set_verbosity,
    settings_options,
    symbol_list_options,
    user_errors,
)
from stock_analyzer.serve import serve
from stock_analyzer.tracking import track_option, tracked

__all__ = ["cli", "main"]

_TRAIN_SOURCES = SourceType(("yahoo", "sample"), ("csv",))
_LIVE_SOURCES = SourceType(("yahoo", "replay"), ("replay",))
_POSITIVE = click.IntRange(min=1)
_FINITE_SECONDS = FiniteFloat(min=0.0)
_JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of text."
)
#: The hint for a failed Yahoo fetch in the offline commands and in ``predict``.
_OFFLINE = "offline? --source sample uses the candles shipped with data-fetcher"
_OFFLINE_LIVE = "offline? --source replay replays the shipped sample as a live feed"


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM for a block (the live loop's summary), then restore them."""
    import signal

    names = [s for s in ("SIGINT", "SIGTERM") if hasattr(signal, s)]
    try:
        saved = {name: signal.signal(getattr(signal, name), signal.SIG_IGN) for name in names}
    except ValueError:  # not the main thread: nothing to protect against
        yield
        return
    try:
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


def _run_name(data: Any) -> str:
    return f"{data.symbol} {data.interval} {data.source}"


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str, allow_nan=False) + "\n"


def _write_text(path: str, text: str) -> None:
    """Write a whole text file atomically, or to stdout when ``path`` is ``-``."""
    if path == "-":
        click.echo(text, nl=False)
        return
    from finance_demo.files import atomic_write

    atomic_write(path, text)


def data_options(command: Any) -> Any:
    """Add ``--config`` and the ``data`` settings' flags (fetch, train, backtest)."""
    return config_option(settings_options(("data",), {"source": _TRAIN_SOURCES})(command))


#: The flags of every setting but the data ones (train, backtest), from the schema.
pipeline_options = settings_options(("buffer", "features", "model", "training", "evaluation"))


def engine_options(what: str) -> Any:
    """``--engine``, ``--workers``, ``--ray-address`` (train, backtest)."""

    def decorate(command: Any) -> Any:
        for option in reversed(
            [
                click.option(
                    "--engine",
                    type=click.Choice(["serial", "process", "ray"]),
                    default="serial",
                    show_default=True,
                    help=f"Where {what} run: here, one process per core, or a Ray cluster "
                    "(the same results bit for bit).",
                ),
                click.option(
                    "--workers",
                    type=_POSITIVE,
                    help="Processes or Ray tasks at once (default: cores).",
                ),
                click.option(
                    "--ray-address", help="An existing Ray cluster (default: start a local one)."
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


def symbols_options(what: str) -> Any:
    """``--symbols``, ``--watchlist``, ``--global``, ``--embedding`` (train, backtest)."""
    listed = symbol_list_options(
        f"Several symbols (A,B,C), {what}, run on the engine; a failing symbol is reported "
        "and the others go on."
    )

    def decorate(command: Any) -> Any:
        for option in reversed(
            [
                listed,
                click.option(
                    "--global",
                    "global_model",
                    is_flag=True,
                    help="One global model over all the symbols (per-symbol scaling).",
                ),
                click.option(
                    "--embedding/--no-embedding",
                    default=True,
                    show_default=True,
                    help="With --global: give the network each symbol's code (an embedding).",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


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


def _data_fetcher(data: Any, **kwargs: Any) -> Any:
    """:func:`_fetcher` for the settings' data section, plus ``kwargs`` (``since``...).

    The section gives the symbol, period, interval, source and split adjustment.
    """
    return _fetcher(
        data.symbol,
        period=data.period,
        interval=data.interval,
        source=data.source,
        adjust_splits=data.adjust_splits,
        **kwargs,
    )


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", package_name="stock-analyzer")
@click.option(
    "--verbose",
    "-v",
    count=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, param, value: set_verbosity(value),
    help="Log to stderr: -v info (retries, data repairs), -vv debug (and tracebacks).",
)
def cli() -> None:
    """Stock price predictions with an LSTM: fetch, train, predict, backtest, info.

    Every option can also be set in the environment: STOCK_ANALYZER_<COMMAND>_<OPTION>
    (e.g. STOCK_ANALYZER_TRAIN_EPOCHS=5); precedence: flag > environment > --config file
    > default.

    Offline quick start (uses the S&P 500 sample shipped with data-fetcher):

    \b
      stock-analyzer train --source sample --symbol ^GSPC --period max --interval 1d
      stock-analyzer predict --model model.safetensors --source replay --max-ticks 300
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
    help="CSV file to write, .csv or .csv.gz ('-' = standard output); the tool reads it "
    "back as --source csv:FILE with the same stamps and time zone.",
)
@click.option("--no-cache", is_flag=True, help="Ignore the on-disk cache of Yahoo responses.")
@click.pass_context
def fetch(ctx: click.Context, **opts: Any) -> None:
    """Fetch candles and write them as CSV (shows where they were cached)."""
    data = _settings(ctx, opts).data
    fetcher = _data_fetcher(data, use_cache=not opts["no_cache"])
    output = opts["output"]
    if output != "-" and not output.endswith((".csv", ".csv.gz", ".txt")):
        raise click.BadParameter(
            f"{output!r}: write a .csv or .csv.gz file (or '-')", param_hint="'--output'"
        )
    with user_errors(_OFFLINE):
        import io

        from data_fetcher import write_candles_csv

        candles = fetcher.fetch_historical()
        text = io.StringIO()
        write_candles_csv(candles, text, symbol=data.symbol)
        if output.endswith(".gz"):
            import gzip

            from finance_demo.files import atomic_write

            atomic_write(output, gzip.compress(text.getvalue().encode("utf-8"), mtime=0))
        else:
            _write_text(output, text.getvalue())
    source = fetcher.source
    cache = source.cache.directory if getattr(source, "use_cache", False) else None
    _echo_err(
        f"{len(candles)} {data.interval} candles of {data.symbol} from {candles.index[0]} "
        f"to {candles.index[-1]} (source {data.source}"
        + (f", cache {cache}" if cache else "")
        + ")"
        + ("" if opts["output"] == "-" else f" -> {opts['output']}")
    )


def _one_symbol_only(opts: dict[str, Any]) -> None:
    """``--global`` needs ``--symbols``/``--watchlist``; ``--engine`` there too (train)."""
    if opts.get("global_model"):
        raise click.UsageError("--global needs several symbols: --symbols A,B or --watchlist FILE")


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
            f"{'epoch' if 'train_loss' in record else 'step'} {epoch}/{epochs}  "
            + "  ".join(
                f"{k} {v:.4f}"
                for k, v in record.items()
                if k not in ("epoch", "seconds") and isinstance(v, float)
            )
            + f"  ({record.get('seconds', 0):.1f} s)",
        )


@cli.command()
@data_options
@pipeline_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Model file to write as well; the training history goes beside it "
    "(<name>.history.json).  [default: none, the model goes to the registry; with "
    "--no-register: model.safetensors]",
)
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Add the model to the registry (see 'stock-analyzer models') and print its id.",
)
@registry_option
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG of losses and test predictions.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False),
    help="Export every prediction with its split (.csv, .csv.gz or .parquet).",
)
@click.option(
    "--model",
    "kind",
    type=click.Choice(["lstm", "seq2seq", "gbdt", "rf", "ensemble"]),
    default="lstm",
    show_default=True,
    help="Model family: the LSTM, an LSTM encoder-decoder with attention, LightGBM "
    "boosting or random forest on the flattened sequences, or an LSTM+gbdt blend.",
)
@symbols_options("one model each (--global: one model for all)")
@engine_options("the symbols")
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress.")
@track_option
@_JSON
@click.pass_context
def train(ctx: click.Context, **opts: Any) -> None:
    """Train an LSTM on a history and evaluate it on the held-out last part."""
    if opts["output"] == "-":
        raise click.BadParameter("the model file needs a path, not '-'", param_hint="'--output'")
    if opts["symbols"] or opts["watchlist"]:
        from stock_analyzer.multi_cli import train_many

        train_many(ctx, opts, _EpochProgress("training", opts["quiet"] or opts["as_json"]))
        return
    _one_symbol_only(opts)
    settings = _settings(ctx, opts)
    data = settings.data
    register = opts["register"]
    output = Path(opts["output"] or "model.safetensors") if opts["output"] or not register else None
    registry = open_registry(opts["registry"]) if register else None
    fetcher = _data_fetcher(data)
    with user_errors(_OFFLINE), tracked(opts["track"], "stock-analyzer", _run_name(data)) as run:
        from finance_demo import (
            few_samples,
            holdout_predictions,
            prediction_metrics,
            prediction_rows,
            spec_of,
            train_model,
            write_predictions,
        )

        candles = fetcher.fetch_historical()
        _echo_err(
            f"training on {len(candles)} {data.interval} candles of {data.symbol} "
            f"({candles.index[0].date()} .. {candles.index[-1].date()}), "
            f"up to {settings.training.epochs} epochs"
        )
        progress = _EpochProgress("training", opts["quiet"] or opts["as_json"])
        try:
            model = train_model(
                candles, settings, data.symbol, data.interval, progress=progress, kind=opts["kind"]
            )
        except KeyboardInterrupt:
            progress.close()
            folder = settings.training.checkpoint_dir
            _echo_err(
                f"interrupted: the last finished epoch is in {folder}/checkpoint.pt; the same "
                "command with --resume continues it"
                if folder
                else "interrupted: nothing saved (with --checkpoint-dir DIR, --resume continues)"
            )
            ctx.exit(130)
        finally:
            progress.close()
        spec, meta, ds = spec_of(model), model.metadata, model.metadata["dataset"]
        warning = few_samples(ds["train"], ds["test"])
        if warning:
            _echo_err(f"warning: {warning}")
        # every prediction over the history: only when a file, plot or run needs it
        needed = output is not None or opts["predictions"] or opts["plot"] or run is not None
        rows = prediction_rows(model, candles) if needed else None
        scores = (
            {"test": prediction_metrics(rows[rows["split"] == "test"], spec.level)}
            if rows is not None
            else {}
        )
        written = []
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            model.save(output)
            history_path = output.with_name(output.stem + ".history.json")
            history = {"history": model.history, "evaluation": meta["evaluation"]}
            _write_text(str(history_path), _dump(history))
            metrics_path = output.with_name(output.stem + ".metrics.json")
            _write_text(str(metrics_path), _dump(scores))
            written += [str(output), str(history_path), str(metrics_path)]
        # the registry copies the file written (same bytes), else saves the model itself
        entry = registry.add(output if output is not None else model) if registry else None
        if entry is not None:
            written.append(str(entry.path))
        if opts["predictions"]:
            write_predictions(rows, opts["predictions"])
        if opts["plot"]:
            from finance_demo import coverage_by_level

            from stock_analyzer.render import plot_training

            test_rows = rows[rows["split"] == "test"]
            attention = None
            if model.config.attention:
                from finance_demo import build_dataset

                X = build_dataset(candles, spec).X[-len(test_rows) // len(spec.horizons) :]
                attention = model.attention_weights(X) if len(X) else None
            plot_training(
                opts["plot"],
                model.history,
                test_rows if len(test_rows) else holdout_predictions(model, candles),
                f"{data.symbol} {data.interval}",
                level=spec.level,
                reliability=coverage_by_level(model, candles),
                attention=attention,
            )
        written += [p for p in (opts["plot"], opts["predictions"]) if p]
        if run is not None:
            run.log_settings(settings.to_dict())
            run.log_history(model.history)
            run.log_scores(meta["evaluation"], "test")
            run.log_scores(scores["test"], "test")
            run.log_files(*written)
            _echo_err(f"tracked as MLflow run {run.id}")
    model_id = entry.id if entry is not None else None
    if opts["as_json"]:
        body = {"files": written, "model_id": model_id, "pipeline": spec.to_dict(), "dataset": ds}
        click.echo(_dump({**body, "evaluation": meta["evaluation"], "warning": warning}), nl=False)
        return
    from stock_analyzer.render import evaluation_table

    click.echo(
        f"held-out test part: {ds['test']} samples from {str(ds['test_start'])[:10]} "
        f"(train {ds['train']}, validation {ds['val']})"
    )
    click.echo(evaluation_table(meta["evaluation"], spec.price_decimals))
    click.echo("saved " + " and ".join(written))
    if entry is not None:
        click.echo(f"registered {entry.id} in {registry.root}")


def _backtest_many(ctx: click.Context, opts: dict[str, Any]) -> None:
    """``backtest --symbols A,B`` / ``--watchlist FILE``: one backtest per symbol.

    The pipeline is imported first (forked pool workers inherit it and only load what
    torch loads on first use while the candles are fetched here), then all symbols'
    folds run on the engine in one queue, the longest first.
    """
    from stock_analyzer.multi_cli import symbols_of

    for flag in ("plot", "predictions", "track", "since"):
        if opts[flag]:
            raise click.UsageError(f"--{flag} works with one --symbol, not with several")
    settings = merge_settings(ctx, opts)
    symbols = symbols_of(opts)
    quiet = opts["quiet"] or opts["as_json"]
    data = settings.data

    def done(n: int, total: int, symbol: str, info: dict[str, Any]) -> None:
        if not quiet:
            _echo_err(
                f"fold {n}/{total}: {symbol} fold {info['fold']} "
                f"({info['test_samples']} samples, {info['seconds']:.1f} s)"
            )

    with user_errors(_OFFLINE):
        from finance_demo import backtest_symbols, make_engine

        with make_engine(opts["engine"], opts["workers"], opts["ray_address"]) as engine:
            result = backtest_symbols(
                symbols,
                settings,
                data.source,
                data.period,
                data.interval,
                engine=engine,
                progress=done,
                folds=opts["folds"],
                retrain_every=opts["retrain_every"],
            )
        if result.interrupted:
            _echo_err(
                f"interrupted: writing the reports of the {len(result.results)} symbols "
                "whose folds all finished"
            )
        reports = {s: r.to_dict(predictions=False) for s, r in result.results.items()}
        if opts["report"]:
            body = {"reports": reports, "errors": result.errors, "seconds": result.seconds}
            _write_text(opts["report"], json.dumps(body, indent=1) + "\n")
    from stock_analyzer.render import many_backtests_table

    to_stderr = opts["report"] == "-"
    if opts["as_json"]:
        click.echo(_dump({"reports": reports, "errors": result.errors}), nl=False, err=to_stderr)
    else:
        click.echo(many_backtests_table(result.results, result.errors), err=to_stderr)
    if result.interrupted:
        ctx.exit(130)
    if result.errors:
        ctx.exit(1)


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


@cli.command()
@click.option(
    "--model",
    "model_path",
    type=ModelRef(),
    help="A registered model's id or a model file written by 'train'  [default: the "
    "latest registered model of --symbol (and --interval)]",
)
@registry_option
@click.option("--symbol", help="Ticker (default: the model's).")
@click.option("--interval", help="Candle interval (default and only allowed: the model's).")
@click.option(
    "--period", help="Warm-up history (default: the source's, see data_fetcher.default_period)."
)
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
    type=_FINITE_SECONDS,
    default=60.0,
    show_default=True,
    help="Seconds between polls of a live source.",
)
@click.option("--max-ticks", type=_POSITIVE, help="Stop after this many new candles.")
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSONL prediction log, appended to ('-' = standard output).",
)
@click.option(
    "--recalibrate",
    type=_POSITIVE,
    metavar="N",
    help="Roll the interval calibration over the last N realized outcomes (default: keep "
    "the calibration from training).",
)
@symbol_list_options(
    "Several symbols (A,B,C) in one loop: one batched request per poll, one forward pass "
    "for all (--model a global model, else each symbol's latest registered model)."
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
@_JSON
def predict(**opts: Any) -> None:
    """Run the live loop: poll candles, predict, log, and score realized outcomes."""
    from stock_analyzer.render import prediction_line, summary_text

    if opts["symbols"] or opts["watchlist"]:
        _predict_many(opts)
        return
    with user_errors(_OFFLINE_LIVE):
        from finance_demo import Activator, System, bind_symbol

        from model import load_forecaster

        ref = opts["model_path"]
        if ref is None and not opts["symbol"]:
            raise click.UsageError(
                "Missing option '--model' (an id or a file; or --symbol for the latest "
                "registered model)."
            )
        if ref is None or not Path(ref).is_file():
            ref = open_registry(opts["registry"]).resolve(
                ref, symbol=opts["symbol"], interval=opts["interval"]
            )
        model = bind_symbol(load_forecaster(ref), opts["symbol"])  # a global model: one symbol
        system = System(model)  # refuses a model file 'train' did not write
        spec = system.pipeline
        interval = opts["interval"] or spec.interval or "1d"
        symbol = opts["symbol"] or spec.symbol
        if not symbol:
            raise click.UsageError("Missing option '--symbol' (the model records none).")
        fetcher = _fetcher(
            symbol,
            period=opts["period"],
            interval=interval,
            source=opts["source"],
            replay_start=_replay_start(opts["replay_start"]),
        )
        to_stdout = opts["log_path"] == "-"
        quiet = opts["quiet"] or opts["as_json"] or to_stdout

        def show(record: dict[str, Any]) -> None:
            if record["type"] == "prediction":
                click.echo(prediction_line(record, spec.price_decimals))

        activator = Activator(
            fetcher,
            system,
            poll_interval=opts["poll_interval"],
            max_ticks=opts["max_ticks"],
            log=sys.stdout if to_stdout else opts["log_path"],
            echo=_echo_err,
            on_record=None if quiet else show,
            recalibrate=opts["recalibrate"],
        )
        summary = activator.execute()
    with _signals_ignored():  # a late Ctrl-C must not cut the summary: it ends with it
        if opts["as_json"]:
            click.echo(json.dumps(summary.to_dict(), default=str).replace("NaN", "null"))
        else:
            click.echo(summary_text(summary), err=to_stdout)


def _predict_many(opts: dict[str, Any]) -> None:
    from stock_analyzer.multi_cli import predict_many
    from stock_analyzer.render import prediction_line
    from stock_analyzer.render_multi import multi_summary_text

    to_stdout = opts["log_path"] == "-"
    quiet = opts["quiet"] or opts["as_json"] or to_stdout

    def show(record: dict[str, Any]) -> None:
        if record["type"] == "prediction":
            click.echo(f"{record['symbol']}  {prediction_line(record, 4)}")

    summary = predict_many(opts, None if quiet else show)
    with _signals_ignored():
        if opts["as_json"]:
            click.echo(json.dumps(summary.to_dict(), default=str).replace("NaN", "null"))
        else:
            click.echo(multi_summary_text(summary), err=to_stdout)


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
@click.option(
    "--report",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSON report file ('-' = standard output).",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG: predictions, cumulative error.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False),
    help="Export every out-of-sample prediction with its fold (.csv, .csv.gz, .parquet).",
)
@engine_options("the folds and symbols")
@symbols_options("one backtest each (--global: a global model beside them)")
@click.option(
    "--models",
    help="Compare model kinds side by side on the same folds (e.g. "
    "lstm,seq2seq,gbdt,rf,ensemble): one table with the baselines and DM tests.",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-fold progress.")
@track_option
@_JSON
@click.pass_context
def backtest(ctx: click.Context, **opts: Any) -> None:
    """Walk-forward backtest: retrain on an expanding window, score against baselines.

    Ctrl-C after the first fold stops the run: the report of the folds already finished
    is printed and written, and the exit status is 130.
    """
    if opts["folds"] is not None and opts["retrain_every"] is not None:
        raise click.UsageError("--folds and --retrain-every are mutually exclusive")
    if opts["models"] is not None:
        from stock_analyzer.compare_cli import backtest_models

        backtest_models(ctx, opts)
        return
    if opts["symbols"] or opts["watchlist"]:
        if opts["global_model"]:
            from stock_analyzer.multi_cli import backtest_global_command

            backtest_global_command(ctx, opts)
            return
        _backtest_many(ctx, opts)
        return
    _one_symbol_only(opts)
    settings = _settings(ctx, opts)
    data = settings.data
    fetcher = _data_fetcher(data, since=opts["since"])
    with user_errors(_OFFLINE), tracked(opts["track"], "stock-analyzer", _run_name(data)) as run:
        from finance_demo import backtest as run_backtest
        from finance_demo import backtest_rows, write_predictions

        candles = fetcher.fetch_historical()
        _echo_err(
            f"backtest on {len(candles)} {data.interval} candles of {data.symbol} "
            f"({candles.index[0].date()} .. {candles.index[-1].date()}), "
            f"up to {settings.training.epochs} epochs per fold"
        )
        from finance_demo import make_engine

        progress = _FoldProgress("backtest", opts["quiet"] or opts["as_json"])
        engine = make_engine(opts["engine"], opts["workers"], opts["ray_address"])
        try:
            with engine:
                report = run_backtest(
                    candles,
                    settings,
                    folds=opts["folds"],
                    retrain_every=opts["retrain_every"],
                    symbol=data.symbol,
                    interval=data.interval,
                    progress=progress,
                    engine=engine,
                )
        finally:
            progress.close()
        if report.interrupted:
            _echo_err(
                f"interrupted: writing the report of the {len(report.folds)} of "
                f"{report.folds_planned} folds already finished"
            )
        written = []
        if opts["report"]:
            _write_text(opts["report"], json.dumps(report.to_dict(), indent=1) + "\n")
            written.append("standard output" if opts["report"] == "-" else opts["report"])
        if opts["plot"]:
            from stock_analyzer.render import plot_backtest

            plot_backtest(report, opts["plot"])
            written.append(opts["plot"])
        if opts["predictions"]:
            write_predictions(backtest_rows(report, candles), opts["predictions"])
            written.append(opts["predictions"])
        if run is not None:
            run.log_settings(settings.to_dict())
            run.log_scores(report.metrics, "backtest")
            run.log_files(*written)
            _echo_err(f"tracked as MLflow run {run.id}")
    text_to_stderr = opts["report"] == "-"
    if opts["as_json"]:
        click.echo(_dump(report.to_dict(predictions=False)), nl=False, err=text_to_stderr)
    else:
        from stock_analyzer.render import backtest_table

        click.echo(backtest_table(report), err=text_to_stderr)
        click.echo(f"{len(report.folds)} folds in {report.seconds:.0f} s", err=text_to_stderr)
        if written:
            click.echo("saved " + " and ".join(written), err=text_to_stderr)
    if report.interrupted:
        ctx.exit(130)


@cli.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
def info(model_path: str, as_json: bool) -> None:
    """Show a model file's header: symbol, interval, created, pipeline, evaluation, versions."""
    # Only the file's JSON header is read (``model.read_header``): no torch, no tensors.
    from finance_demo.config import PipelineSpec
    from finance_demo.errors import SettingsError

    from model import ModelError, read_header
    from stock_analyzer.render import format_info

    try:
        header = read_header(model_path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    spec, problem = None, None
    raw = header.metadata.get("pipeline")
    if raw is None:
        problem = "none recorded (not written by 'stock-analyzer train')"
    else:
        config, glob = header.config, header.metadata.get("global")
        codes = glob.get("code_dim") if isinstance(glob, dict) else None
        if isinstance(codes, int) and codes > 0:  # the symbols' codes are inputs too
            import dataclasses

            n_codes = codes
            config = dataclasses.replace(config, input_dim=max(1, config.input_dim - n_codes))
        try:
            spec = PipelineSpec.from_dict(raw, config)
        except (SettingsError, ValueError) as exc:
            problem = f"broken ({exc})"
    if as_json:
        body = {
            "metadata": dict(header.metadata),
            "created": header.created,
            "network": header.config.to_dict(),
            "versions": dict(header.versions),
            "history": header.training.get("history") or [],
            "pipeline_problem": problem,
        }
        click.echo(_dump(body), nl=False)
    else:
        click.echo(format_info(model_path, header, spec, problem))


cli.add_command(models)
cli.add_command(forecast_command)
cli.add_command(serve)


def main() -> None:
    """Entry point of the ``stock-analyzer`` executable."""
    cli(prog_name="stock-analyzer", auto_envvar_prefix="STOCK_ANALYZER")


from stock_analyzer.tune_cli import tune  # noqa: E402 (the tune command lives in its own module)

cli.add_command(tune)
