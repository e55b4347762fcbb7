"""``stock-analyzer serve``: the REST service over the model registry (FastAPI + uvicorn).

The app is :func:`stock_analyzer.serve_app.create_app`; this module is the command:
options, the token, the loopback rule, and a one-line error when the ``serve`` extra is
not installed (``pip install 'stock-analyzer[serve]'``). Nothing heavy is imported until
the command runs.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import click

from stock_analyzer.models_cli import registry_option

__all__ = ["create_app", "is_loopback", "read_token", "serve"]

#: What a user without the extra is told.
MISSING_EXTRA = "the REST service needs its extra: pip install 'stock-analyzer[serve]'"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost).

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(token_file: str | None) -> str | None:
    """The bearer token: the file's first line, else ``$STOCK_ANALYZER_TOKEN``, else None.

    Raises:
        click.ClickException: The file cannot be read or is empty.
    """
    if token_file is not None:
        try:
            with open(token_file, encoding="utf-8") as handle:
                text = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read the token file {token_file}: {exc}") from None
        if not text:
            raise click.ClickException(f"the token file {token_file} is empty")
        return text.splitlines()[0].strip()
    return os.environ.get("STOCK_ANALYZER_TOKEN") or None


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The FastAPI app (see :func:`stock_analyzer.serve_app.create_app`).

    Raises:
        click.ClickException: The ``serve`` extra is not installed.
    """
    try:
        from stock_analyzer.serve_app import create_app as build
    except ImportError as exc:
        raise click.ClickException(f"{MISSING_EXTRA} ({exc})") from None
    return build(*args, **kwargs)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port."
)
@registry_option
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    help="File whose first line is the bearer token of DELETE and POST /train  [default: "
    "$STOCK_ANALYZER_TOKEN]",
)
@click.option(
    "--cache-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Loaded models kept in memory.",
)
def serve(host: str, port: int, registry: Any, token_file: str | None, cache_size: int) -> None:
    """Serve the registry over HTTP: models, forecasts, training jobs (docs at /docs).

    Listens on 127.0.0.1 by default; another address needs a token (--token-file or
    STOCK_ANALYZER_TOKEN). DELETE /models/{id} and POST /train always need it, as
    'Authorization: Bearer <token>'.
    """
    token = read_token(token_file)
    if not is_loopback(host) and token is None:
        raise click.ClickException(
            f"refusing to listen on {host} without a token: anyone who reaches it could "
            "delete models and start training; give --token-file FILE or STOCK_ANALYZER_TOKEN"
        )
    try:
        import uvicorn
    except ImportError as exc:
        raise click.ClickException(f"{MISSING_EXTRA} ({exc})") from None
    # one OpenMP thread per request thread (no oversubscription); read when torch loads
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    app = create_app(registry, token, cache_size=cache_size)
    click.echo(
        f"serving the models of {app.state.registry.root} on http://{host}:{port} "
        f"(API docs: http://{host}:{port}/docs; auth: {'token' if token else 'none, read-only'})",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
