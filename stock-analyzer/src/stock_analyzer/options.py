"""Click plumbing: one-line errors, source strings, ``--config FILE`` and the settings flags.

The settings flags are derived from ``finance_demo.settings_schema()``. Nothing here
imports torch or pandas, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

__all__ = [
    "NULL",
    "SETTING_PARAMS",
    "CommaList",
    "FiniteFloat",
    "OneLineGroup",
    "OrNull",
    "SourceType",
    "config_option",
    "merge_settings",
    "set_verbosity",
    "settings_options",
    "user_errors",
]

#: Flag parameter name -> ``"section.name"`` of the setting it sets (filled by
#: :func:`settings_options` from ``finance_demo.settings_schema()``).
SETTING_PARAMS: dict[str, str] = {}

#: Settings whose flag may be given only once (a repeat would silently keep the last).
_ONCE = {("data", "symbol")}

#: The value of ``--num-threads none`` and other optional settings: ``null`` in a file.
NULL = "none"


class CommaList(click.ParamType):
    """A comma-separated list, ``1,5,20``, of ``item`` values (a tuple)."""

    name = "list"

    def __init__(self, item: type) -> None:
        self.item = item

    def get_metavar(self, param: Any, ctx: Any = None) -> str:
        """Show ``1,5,20``-style input in ``--help``."""
        return f"{self.item.__name__.upper()},..."

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        """Split on commas and convert each part."""
        if isinstance(value, tuple):
            return value
        try:
            return tuple(self.item(part.strip()) for part in str(value).split(",") if part.strip())
        except ValueError:
            kind = self.item.__name__
            self.fail(f"{value!r} is not a comma-separated list of {kind}", param, ctx)
            return None  # pragma: no cover


class FiniteFloat(click.FloatRange):
    """A float in a range that is also finite: ``nan`` and ``inf`` are refused.

    (``click.FloatRange`` lets ``nan`` through: every comparison with it is false. A NaN
    poll interval would mean no wait at all, hammering the data source.)
    """

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        """Convert, refusing ``nan``/``inf`` with one line."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class OrNull(click.ParamType):
    """A value of ``base`` type, or ``none`` (the setting's ``null``)."""

    def __init__(self, base: click.ParamType) -> None:
        self.base = base
        self.name = f"{base.name}|none"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        """Return :data:`NULL` for ``none``, else the base type's conversion."""
        if isinstance(value, str) and value.lower() in (NULL, "null"):
            return NULL
        return self.base.convert(value, param, ctx)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def settings_options(
    sections: tuple[str, ...], types: dict[str, click.ParamType] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one flag per setting of ``sections``, derived from ``settings_schema()``.

    Each flag defaults to ``None`` (not given), so that :func:`merge_settings` applies
    only what the user typed: flag > ``--config`` file > default. ``Literal`` fields get a
    ``Choice``, bools ``--x/--no-x``, tuples ``--x 1,5,20``, optional fields accept
    ``none``.

    Args:
        sections: The settings sections whose fields become flags.
        types: A click type per field name that replaces the derived one (``source``).
    """
    from finance_demo import settings_schema

    types = types or {}
    decorators = []
    for f in settings_schema():
        if f.section not in sections:
            continue
        param = f.name
        SETTING_PARAMS[param] = f"{f.section}.{f.name}"
        help_text = f"{f.help}  [default: {_show(f.default)}]"
        if f.type is bool and not f.multiple:
            flag = f"{f.flag}/--no-{f.flag[2:]}"
            decorators.append(click.option(flag, param, default=None, help=help_text))
            continue
        if f.name in types:
            kind: Any = types[f.name]
        elif f.choices:
            kind = click.Choice([str(c) for c in f.choices])
        elif f.multiple:
            kind = CommaList(f.type)
        else:
            kind = {int: click.INT, float: click.FLOAT, str: click.STRING}[f.type]
        if f.optional and f.type is not str:
            kind = OrNull(kind)
        if (f.section, f.name) in _ONCE:  # collected, so that a repeat is an error
            decorators.append(click.option(f.flag, param, type=kind, multiple=True, help=help_text))
            continue
        decorators.append(click.option(f.flag, param, type=kind, default=None, help=help_text))

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def merge_settings(ctx: click.Context, opts: dict[str, Any]) -> Any:
    """Return the ``--config`` file's settings (or defaults) with the given flags applied.

    Raises:
        click.BadParameter: A flag value the settings refuse (one line, ``section.key``).
    """
    from finance_demo import Settings, SettingsError, load_settings, settings_from_flags

    base = ctx.meta.get("settings") or Settings()
    given = {SETTING_PARAMS[k]: v for k, v in opts.items() if k in SETTING_PARAMS}
    for key in [k for k in given if tuple(k.split(".", 1)) in _ONCE]:
        values = given[key]
        if isinstance(values, tuple):
            if len(values) > 1:
                flag = "--" + key.split(".", 1)[1].replace("_", "-")
                raise click.UsageError(
                    f"{flag} was given {len(values)} times ({', '.join(map(str, values))}); "
                    "give it once"
                )
            given[key] = values[0] if values else None
    nulls = [key for key, value in given.items() if value == NULL]
    try:
        settings = settings_from_flags({k: v for k, v in given.items() if k not in nulls}, base)
        if nulls:
            raw: dict[str, dict[str, Any]] = {}
            for key in nulls:
                section, _, name = key.partition(".")
                raw.setdefault(section, {})[name] = None
            settings = load_settings(raw, settings)
    except SettingsError as exc:
        msg = str(exc)
        key = msg.split(" ", 1)[0]
        names = [name for name, setting in SETTING_PARAMS.items() if setting == key]
        param = next((p for p in ctx.command.params if p.name in names), None)
        raise click.BadParameter(msg, ctx, param) from None
    return settings


#: How talkative the run is: 0 warnings only, 1 info (-v), 2 debug and tracebacks (-vv).
VERBOSITY = 0

#: The loggers of the packages (data_fetcher logs retries and data repairs).
_LOGGERS = ("data_fetcher", "feature_extraction", "finance_demo", "model", "stock_analyzer")


def set_verbosity(level: int) -> None:
    """Send the packages' ``logging`` to stderr: 0 warnings, 1 info (``-v``), 2 debug.

    Args:
        level: How many ``-v`` were given.
    """
    global VERBOSITY
    VERBOSITY = level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    threshold = logging.WARNING if level <= 0 else logging.INFO if level == 1 else logging.DEBUG
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(threshold)
        logger.propagate = False


class OneLineGroup(click.Group):
    """A group whose errors are one stderr line (``Error: ...``), never a usage dump."""

    def main(self, args: Any = None, prog_name: Any = None, *a: Any, **kw: Any) -> Any:
        """Run the CLI; print a ``ClickException`` as one line and exit with its code."""
        if not kw.pop("standalone_mode", True):
            return super().main(args, prog_name, *a, standalone_mode=False, **kw)
        try:
            rv = super().main(args, prog_name, *a, standalone_mode=False, **kw)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except Exception as exc:  # the last resort: a bug, never a traceback by default
            if VERBOSITY >= 2:
                raise
            lines = str(exc).strip().splitlines()
            text = (lines[0] if lines else "")[:300]
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {text} (this is a bug; please report "
                "it; -vv shows the traceback)",
                err=True,
            )
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class SourceType(click.ParamType):
    """A data source string: one of ``names``, or ``<prefix>:PATH`` with an existing file.

    Args:
        names: Plain names (``yahoo``, ``sample``, ``replay``...).
        path_prefixes: Prefixes that take a file (``csv``, ``replay``).
    """

    name = "source"

    def __init__(self, names: tuple[str, ...], path_prefixes: tuple[str, ...]) -> None:
        self.names = names
        self.path_prefixes = path_prefixes

    def get_metavar(self, param: Any, ctx: Any = None) -> str:
        """Show the accepted forms in ``--help``."""
        return "[" + "|".join(self.names + tuple(f"{p}:PATH" for p in self.path_prefixes)) + "]"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        """Check the name, or that the file after ``prefix:`` exists."""
        value = str(value)
        if value in self.names:
            return value
        prefix, _, path = value.partition(":")
        if prefix in self.path_prefixes and path:
            if not Path(path).is_file():
                self.fail(f"{value!r}: no such file {path!r}", param, ctx)
            return value
        forms = ", ".join(self.names + tuple(f"{p}:PATH" for p in self.path_prefixes))
        self.fail(f"{value!r} is not a source; use one of {forms}", param, ctx)
        return value  # pragma: no cover


def _load_config(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Eager callback: validate the file and keep its settings in ``ctx.meta``."""
    if value is None or ctx.resilient_parsing:
        return value
    from finance_demo import SettingsError, load_settings_file

    try:
        settings = load_settings_file(value)
    except SettingsError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    ctx.meta["settings"] = settings
    return value


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config FILE`` (eager; the flags given on the command line override it)."""
    return click.option(
        "--config",
        "config",
        type=click.Path(exists=True, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=_load_config,
        help="YAML settings file (sections data, buffer, features, model, training, "
        "evaluation); flags override it.",
    )(func)


@contextlib.contextmanager
def user_errors(offline_hint: str | None = None) -> Iterator[None]:
    """Map each package's root error to one ``Error: ...`` line (a ``ClickException``).

    ``data_fetcher.FetcherError``, ``finance_demo.PipelineError``, ``model.ModelError``
    and ``OSError`` (a full disk, a missing directory) are the errors a user can cause;
    anything else is a bug, handled by :class:`OneLineGroup`'s last resort.

    Args:
        offline_hint: Added to a failed download (``FetchError``) of a live source.
    """
    from data_fetcher import FetcherError, FetchError
    from finance_demo import PipelineError

    from model import ModelError

    try:
        yield
    except FetchError as exc:
        msg = str(exc)
        if offline_hint and "sample" not in msg:
            msg += f" ({offline_hint})"
        raise click.ClickException(msg) from None
    except (FetcherError, PipelineError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise click.ClickException(f"{exc.strerror or exc}{where}") from None


def symbol_list_options(help_symbols: str) -> Any:
    """``--symbols A,B,C`` and ``--watchlist FILE`` (train, backtest, forecast, predict)."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--watchlist",
            type=click.Path(exists=True, dir_okay=False),
            help="A file of symbols, one a line ('#' comments), instead of --symbols.",
        )(command)
        return click.option("--symbols", type=CommaList(str), help=help_symbols)(command)

    return decorate
