"""Each package writes its version once (its ``__version__``) and ships ``py.typed``."""

import importlib
import importlib.resources
from importlib.metadata import files, version

import pytest

PACKAGES = {
    "parametrize-tests": "parametrize_tests",
    "signal-processing": "signal_processing",
    "data-fetcher": "data_fetcher",
    "feature-extraction": "feature_extraction",
    "model": "model",
    "finance-demo": "finance_demo",
    "stock-analyzer": "stock_analyzer",
}


@pytest.mark.parametrize("dist", sorted(PACKAGES))
def test_one_version_and_a_typed_marker(dist):
    module = importlib.import_module(PACKAGES[dist])
    assert version(dist) == module.__version__
    assert module.__file__ is not None
    marker = importlib.resources.files(PACKAGES[dist]) / "py.typed"
    assert marker.is_file()
    assert files(dist) is not None
