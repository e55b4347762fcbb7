"""``stock-analyzer models``: list, show, delete and clean up the registered models.

The registry is ``finance_demo.Registry``: a directory of model files (default
``$STOCK_ANALYZER_HOME/models``, else the user data directory of ``stock-analyzer``;
``--registry DIR`` on every command overrides it). Nothing here imports torch or pandas.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import click

from stock_analyzer.options import user_errors

__all__ = ["Duration", "ModelRef", "models", "open_registry", "registry_option"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Duration(click.ParamType):
    """A duration such as ``90s``, ``15m``, ``24h``, ``30d`` or ``2w`` (a ``timedelta``)."""

    name = "duration"

    def get_metavar(self, param: Any, ctx: Any = None) -> str:
        """Show the accepted form in ``--help``."""
        return "N[s|m|h|d|w]"

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        """Parse ``<number><unit>``; a bare number is days."""
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(value))
        if match is None:
            self.fail(f"{value!r} is not a duration like 30d, 24h or 15m", param, ctx)
        number, unit = float(match.group(1)), match.group(2) or "d"
        if number > 1e6:
            self.fail(f"{value!r} is too long", param, ctx)
        return timedelta(seconds=number * _UNITS[unit])


class ModelRef(click.ParamType):
    """A model: a registry id (or a unique prefix of one) or the path of a model file.

    Something that looks like a path (it has a ``/`` or ends with ``.pt`` or
    ``.safetensors``) must exist, as ``click.Path(exists=True)`` would say.
    """

    name = "id|file"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        """Check that a path-like value exists."""
        from pathlib import Path

        text = str(value)
        looks_like_path = "/" in text or "\\" in text or text.endswith((".pt", ".safetensors"))
        path = Path(text)
        if looks_like_path and not path.exists():
            self.fail(f"File {text!r} does not exist.", param, ctx)
        if looks_like_path and path.is_dir():
            self.fail(f"File {text!r} is a directory.", param, ctx)
        return text


def registry_option(command: Any) -> Any:
    """Add ``--registry DIR`` (default: ``$STOCK_ANALYZER_HOME/models`` or the user dir)."""
    return click.option(
        "--registry",
        "registry",
        type=click.Path(file_okay=False),
        help="Model registry directory  [default: $STOCK_ANALYZER_HOME/models, else the "
        "user data directory of stock-analyzer]",
    )(command)


def open_registry(root: str | None) -> Any:
    """The ``finance_demo.Registry`` at ``root`` (``None``: the default directory).

    Raises:
        click.ClickException: The directory cannot be used (one line).
    """
    with user_errors():
        from finance_demo.registry import Registry

        return Registry(root)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


@click.group()
def models() -> None:
    """The registered models: list, show, delete, cleanup.

    'stock-analyzer train' registers every model it trains (unless --no-register);
    'predict', 'forecast' and 'serve' take a model by id, by file, or the latest one
    for a --symbol.
    """


@models.command("list")
@click.option("--symbol", help="Only this ticker's models.")
@click.option("--interval", help="Only models of this candle interval.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@registry_option
def list_models(symbol: str | None, interval: str | None, as_json: bool, registry: Any) -> None:
    """List the registered models, newest first."""
    from stock_analyzer.render_models import models_table

    reg = open_registry(registry)
    with user_errors():
        entries = reg.list(symbol=symbol, interval=interval)
    if as_json:
        click.echo(_dump([e.to_dict() for e in entries]), nl=False)
        return
    if not entries:
        click.echo(f"no models in {reg.root}", err=True)
        return
    click.echo(models_table(entries))


@models.command("show")
@click.argument("model_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the entry and the header as JSON.")
@registry_option
def show(model_id: str, as_json: bool, registry: Any) -> None:
    """Show one registered model: its entry and its file's header."""
    from finance_demo.config import PipelineSpec
    from finance_demo.errors import SettingsError

    from model import read_header
    from stock_analyzer.render import format_info

    reg = open_registry(registry)
    with user_errors():
        entry = reg.get(model_id)
        header = read_header(entry.path)
    spec, problem = None, None
    raw = header.metadata.get("pipeline")
    if raw is None:
        problem = "none recorded (not written by 'stock-analyzer train')"
    else:
        try:
            spec = PipelineSpec.from_dict(raw, header.config)
        except SettingsError as exc:
            problem = f"broken ({exc})"
    if as_json:
        body = {
            **entry.to_dict(),
            "metadata": dict(header.metadata),
            "network": header.config.to_dict(),
            "versions": dict(header.versions),
            "pipeline_problem": problem,
        }
        click.echo(_dump(body), nl=False)
        return
    click.echo(f"id: {entry.id}  ({entry.size} bytes)")
    click.echo(format_info(str(entry.path), header, spec, problem))


@models.command("delete")
@click.argument("model_id", metavar="ID")
@registry_option
def delete(model_id: str, registry: Any) -> None:
    """Delete a registered model (its file and its index row)."""
    reg = open_registry(registry)
    with user_errors():
        entry = reg.delete(model_id)
    click.echo(f"deleted {entry.id}")


@models.command("cleanup")
@click.option(
    "--older-than",
    type=Duration(),
    required=True,
    help="Delete the models created longer ago than this (30d, 12h, 2w...).",
)
@click.option(
    "--keep-latest",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep this many newest models per symbol and interval, whatever their age.",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@registry_option
def cleanup(older_than: timedelta, keep_latest: int, dry_run: bool, registry: Any) -> None:
    """Delete old models, keeping the newest --keep-latest per symbol and interval."""
    reg = open_registry(registry)
    with user_errors():
        gone = reg.cleanup(older_than, keep_latest=keep_latest, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for entry in gone:
        click.echo(f"{verb} {entry.id}  (created {entry.created})")
    click.echo(f"{verb} {len(gone)} model(s); {len(reg.list())} left in {reg.root}", err=True)
