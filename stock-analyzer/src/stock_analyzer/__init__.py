"""stock_analyzer: the ``stock-analyzer`` command line (fetch, train, predict, info).

The CLI is thin: it parses options and calls ``data_fetcher`` and ``finance_demo``. Import
:data:`stock_analyzer.cli.cli` to run it from Python (``click.testing.CliRunner``).
"""

__version__ = "1.0.0"
__all__ = ["__version__"]
