"""parametrize_tests: table-driven pytest cases from ``tests/config/<module>.yaml``.

Installing the package registers the plugin (entry point ``pytest11``); a test that takes
``args`` (and ``expected``) then receives one parametrized case per YAML entry.
``load_cases`` reads the same files from a notebook.
"""

from parametrize_tests.cases import Case, CaseFileError, load_cases

__version__ = "1.0.0"
__all__ = ["Case", "CaseFileError", "__version__", "load_cases"]
