"""Every stock-analyzer test runs with its own model registry.

``stock-analyzer train`` registers what it trains; without this, the tests would fill the
user's real registry (``$STOCK_ANALYZER_HOME/models`` or the user data directory).
The variable is set in ``os.environ``, so the subprocesses the tests start inherit it.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_registry_home(tmp_path_factory):
    """Point ``STOCK_ANALYZER_HOME`` at a temporary directory for the whole session."""
    home = tmp_path_factory.mktemp("stock-analyzer-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STOCK_ANALYZER_HOME", str(home))
        yield home
