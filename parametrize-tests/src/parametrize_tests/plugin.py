"""The pytest plugin: give a test its cases from ``tests/config/<test_module>.yaml``.

A test function that takes an ``args`` parameter (and optionally ``expected``) is
parametrized with one ``pytest.param(args, expected, id=..., marks=...)`` per case of the
block named after it. Any problem with the file stops collection with one line that
names the file and line.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
from pathlib import Path
from typing import Any

import pytest

from parametrize_tests.cases import Case, CaseFileError, load_cases

__all__ = ["case_file_for", "pytest_generate_tests"]

_BUILTIN_MARKS = frozenset({"skip", "xfail"})
# pytest's own marks that need Python arguments (a condition string would be eval'ed,
# parametrize needs names and values): never accepted from a case file.
_REFUSED_MARKS = frozenset(
    {"skipif", "parametrize", "usefixtures", "filterwarnings", "tryfirst", "trylast"}
)
_CACHE_KEY = pytest.StashKey[dict[Path, Any]]()


def case_file_for(test_file: str | Path) -> Path:
    """Return the case file of a test module: ``<dir>/config/<module stem>.yaml``.

    Args:
        test_file: Path of the test module.

    Returns:
        The path of its YAML case file (it may not exist).
    """
    test_file = Path(test_file)
    return test_file.parent / "config" / f"{test_file.stem}.yaml"


def _registered_marks(config: pytest.Config) -> set[str]:
    names = set(_BUILTIN_MARKS)
    for line in config.getini("markers"):
        names.add(line.split(":", 1)[0].split("(", 1)[0].strip())
    return names - _REFUSED_MARKS


def _is_test_name(config: pytest.Config, name: str) -> bool:
    """Whether pytest collects a function called ``name`` (ini ``python_functions``)."""
    for pattern in config.getini("python_functions"):
        if name.startswith(pattern) or (
            any(c in pattern for c in "*?[") and fnmatch.fnmatch(name, pattern)
        ):
            return True
    return False


def _module_test_names(config: pytest.Config, module: Any) -> set[str]:
    names = set()
    for name, obj in vars(module).items():
        if inspect.isfunction(obj):
            names.add(name)
        elif inspect.isclass(obj):
            names.update(n for n, v in vars(obj).items() if inspect.isfunction(v))
    return {n for n in names if _is_test_name(config, n)}


def _display(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it."""
    try:
        rel = Path(os.path.relpath(path))
    except ValueError:  # another drive on Windows
        return path
    return path if rel.parts[:1] == ("..",) else rel


def _load_checked(config: pytest.Config, path: Path, module: Any) -> dict[str, list[Case]]:
    """Load a case file once per session and check it against its module."""
    cache = config.stash.setdefault(_CACHE_KEY, {})
    if path in cache:
        result = cache[path]
        if isinstance(result, str):
            raise CaseFileError(result)
        return result
    try:
        blocks = load_cases(path)
        functions = _module_test_names(config, module)
        known_marks = _registered_marks(config)
        for name, cases in blocks.items():
            if name not in functions:
                raise CaseFileError(
                    f"{path}:{cases[0].block_line}:1: cases for {name!r}, but "
                    f"{Path(module.__file__).name} has no such test function"
                )
            for case in cases:
                for mark in case.marks:
                    mark_name = mark if isinstance(mark, str) else next(iter(mark))
                    if mark_name not in known_marks:
                        raise CaseFileError(
                            f"{path}:{case.line}:1: unknown mark {mark_name!r} in case "
                            f"{case.id!r} (known: {', '.join(sorted(known_marks))})"
                        )
    except CaseFileError as exc:
        cache[path] = str(exc)
        raise
    cache[path] = blocks
    return blocks


def _to_mark(spec: Any) -> pytest.MarkDecorator:
    if isinstance(spec, str):
        return getattr(pytest.mark, spec)
    ((name, value),) = spec.items()
    if name in _BUILTIN_MARKS:
        return getattr(pytest.mark, name)(reason=str(value))
    return getattr(pytest.mark, name)(value)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests that take ``args``/``expected`` from their YAML case block."""
    function = metafunc.function
    params = inspect.signature(function).parameters
    module_file = _display(Path(metafunc.module.__file__))
    path = case_file_for(module_file)
    wants = "args" in params
    if not wants and not path.exists():
        return
    message = None
    try:
        if not path.exists():
            raise CaseFileError(
                f"{module_file}:{function.__code__.co_firstlineno}:1: {function.__name__} takes "
                f"'args' but its case file {path} does not exist"
            )
        blocks = _load_checked(metafunc.config, path, metafunc.module)
        cases = blocks.get(function.__name__)
        if wants and cases is None:
            raise CaseFileError(
                f"{module_file}:{function.__code__.co_firstlineno}:1: {function.__name__} takes "
                f"'args' but {path.name} has no block for it"
            )
        if not wants and cases is not None:
            raise CaseFileError(
                f"{path}:{cases[0].block_line}:1: cases for {function.__name__!r}, which takes no "
                "'args' parameter"
            )
        if cases is None:
            return
        takes_expected = "expected" in params
        for case in cases:
            if takes_expected and not case.has_expected:
                raise CaseFileError(
                    f"{path}:{case.line}:1: case {case.id!r} of {function.__name__!r} has no "
                    "'expected'"
                )
    except CaseFileError as exc:
        message = str(exc)
    if message is not None:
        # Outside the except block, so the one-line failure carries no chained traceback.
        pytest.fail(message, pytrace=False)
    names = ["args", "expected"] if takes_expected else ["args"]
    values = []
    for case in cases:
        marks = [_to_mark(m) for m in case.marks]
        row = (case.args, case.expected) if takes_expected else (case.args,)
        values.append(pytest.param(*row, id=case.id, marks=marks))
    metafunc.parametrize(names, values)
