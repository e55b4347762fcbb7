"""Click plumbing: one-line errors, source strings, and the ``--config FILE`` option.

Nothing here imports torch or pandas, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

__all__ = [
    "CONFIG_FLAGS",
    "OneLineGroup",
    "SourceType",
    "config_option",
    "user_errors",
]

#: Settings-file keys that are also flags: ``(section, key) -> flag parameter name``.
CONFIG_FLAGS: dict[tuple[str, str], str] = {
    ("data", "symbol"): "symbol",
    ("data", "period"): "period",
    ("data", "interval"): "interval",
    ("data", "source"): "source",
    ("training", "epochs"): "epochs",
    ("training", "seed"): "seed",
}


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
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
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
    """Eager callback: validate the file, keep it in ``ctx.meta``, fill ``default_map``."""
    if value is None or ctx.resilient_parsing:
        return value
    from finance_demo import SettingsError, load_settings_file

    try:
        settings = load_settings_file(value)
    except SettingsError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    ctx.meta["settings"] = settings
    defaults = dict(ctx.default_map or {})
    names = {p.name for p in ctx.command.params}
    for (section, key), flag in CONFIG_FLAGS.items():
        value_in_file = getattr(getattr(settings, section), key)
        if flag in names and value_in_file is not None:
            defaults[flag] = value_in_file
    ctx.default_map = defaults
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
        help="YAML settings file (sections data, buffer, features, model, training); "
        "flags override it.",
    )(func)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the libraries' user-facing exceptions into one-line ``ClickException``s."""
    from data_fetcher import FetcherError, FetchError
    from finance_demo import PipelineError

    from model import ModelError

    try:
        yield
    except FetchError as exc:
        msg = str(exc)
        if "sample" not in msg:
            msg += " (offline? --source sample uses the candles shipped with data-fetcher)"
        raise click.ClickException(msg) from None
    except (FetcherError, PipelineError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise click.ClickException(f"{exc.strerror or exc}{where}") from None
