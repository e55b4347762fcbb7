"""Load and validate the YAML case files, with line numbers, outside pytest too.

A case file is a mapping from test-function name to a list of cases::

    test_window_count:
      - id: exact_fill
        args: {buffer_size: 4, step_size: 1, ticks: 4}
        expected: 1
        marks: [xfail]            # or [{skip: "reason"}], [slow]

Every problem is raised as a :class:`CaseFileError` whose message is one line that starts
with ``file:line:col``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CASE_KEYS", "Case", "CaseFileError", "load_cases"]

CASE_KEYS = frozenset({"id", "args", "expected", "marks"})
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


class CaseFileError(ValueError):
    """A case file that cannot be used; the message is one ``file:line:col: problem`` line."""


@dataclass(frozen=True)
class Case:
    """One named case of a test function.

    Attributes:
        id: The case name; it becomes the pytest id ``test_x[id]``.
        args: Keyword arguments of the case.
        expected: The expected value (``None`` when the case gives none).
        marks: Mark specs as written: ``"xfail"``, ``{"skip": "reason"}``, ``"slow"``...
        line: 1-based line of the case in its file.
        has_expected: Whether the case gives an ``expected`` key (even ``null``).
        block_line: 1-based line of the test-function key the case belongs to.
    """

    id: str
    args: dict[str, Any]
    expected: Any = None
    marks: tuple[Any, ...] = ()
    line: int = 0
    has_expected: bool = field(default=False, compare=False)
    block_line: int = field(default=0, compare=False)


def _where(path: Path, node: yaml.Node) -> str:
    mark = node.start_mark
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_object(node, deep=True)


def _check_unique_keys(path: Path, node: yaml.Node, _seen: set[int] | None = None) -> None:
    """Reject a mapping (at any depth) that gives the same key twice; YAML keeps the last."""
    _seen = set() if _seen is None else _seen
    if id(node) in _seen:  # an alias (possibly recursive) already checked
        return
    _seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise CaseFileError(
                        f"{_where(path, key_node)}: key {key_node.value!r} given twice"
                    )
                seen.add(key_node.value)
            _check_unique_keys(path, value_node, _seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_unique_keys(path, item, _seen)


def _parse_marks(path: Path, node: yaml.Node, loader: yaml.SafeLoader) -> tuple[Any, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise CaseFileError(f"{_where(path, node)}: 'marks' must be a list, e.g. [xfail]")
    marks = []
    for item in node.value:
        value = _construct(loader, item)
        if isinstance(value, str):
            marks.append(value)
        elif isinstance(value, dict) and len(value) == 1:
            ((name, _reason),) = value.items()
            if not isinstance(name, str):
                raise CaseFileError(f"{_where(path, item)}: a mark name must be a string")
            marks.append(value)
        else:
            raise CaseFileError(
                f"{_where(path, item)}: a mark is a name (xfail) or one-key mapping "
                f"({{skip: reason}}), got {value!r}"
            )
    return tuple(marks)


def _parse_case(path: Path, node: yaml.Node, loader: yaml.SafeLoader, block_line: int) -> Case:
    if not isinstance(node, yaml.MappingNode):
        raise CaseFileError(f"{_where(path, node)}: a case must be a mapping with id and args")
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in CASE_KEYS:
            raise CaseFileError(
                f"{_where(path, key_node)}: unknown key {key!r} in a case "
                f"(allowed: {', '.join(sorted(CASE_KEYS))})"
            )
        if key in fields:
            raise CaseFileError(f"{_where(path, key_node)}: key {key!r} given twice in a case")
        fields[key] = value_node
        _check_unique_keys(path, value_node)
    if "id" not in fields:
        raise CaseFileError(f"{_where(path, node)}: case has no 'id'")
    case_id = _construct(loader, fields["id"])
    if not isinstance(case_id, str | int) or not _ID_RE.match(str(case_id)):
        raise CaseFileError(
            f"{_where(path, fields['id'])}: id {case_id!r} must be a word of letters, digits, "
            "'_', '-' or '.'"
        )
    args: Any = {}
    if "args" in fields:
        args = _construct(loader, fields["args"])
        if args is None:
            args = {}
        if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
            raise CaseFileError(f"{_where(path, fields['args'])}: 'args' must be a mapping")
    marks = _parse_marks(path, fields["marks"], loader) if "marks" in fields else ()
    expected = _construct(loader, fields["expected"]) if "expected" in fields else None
    return Case(
        id=str(case_id),
        args=args,
        expected=expected,
        marks=marks,
        line=node.start_mark.line + 1,
        has_expected="expected" in fields,
        block_line=block_line,
    )


def _parse(path: Path, text: str) -> dict[str, list[Case]]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return {}
        if not isinstance(root, yaml.MappingNode):
            raise CaseFileError(
                f"{_where(path, root)}: top level must map test-function names to case lists"
            )
        result: dict[str, list[Case]] = {}
        for key_node, value_node in root.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(name, str) or not name.isidentifier():
                raise CaseFileError(f"{_where(path, key_node)}: {name!r} is not a function name")
            if name in result:
                raise CaseFileError(
                    f"{_where(path, key_node)}: test {name!r} has a second case block "
                    f"(first at line {result[name][0].block_line})"
                )
            if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
                raise CaseFileError(
                    f"{_where(path, value_node)}: {name!r} must have a non-empty list of cases"
                )
            block_line = key_node.start_mark.line + 1
            cases = [_parse_case(path, n, loader, block_line) for n in value_node.value]
            seen: dict[str, int] = {}
            for case in cases:
                if case.id in seen:
                    raise CaseFileError(
                        f"{path}:{case.line}:1: duplicate id {case.id!r} in {name!r} "
                        f"(first at line {seen[case.id]})"
                    )
                seen[case.id] = case.line
            result[name] = cases
        return result
    finally:
        loader.dispose()


def load_cases(path: str | Path, test_name: str | None = None) -> Any:
    r"""Load a case file; usable from a notebook as well as from the plugin.

    Args:
        path: The YAML file.
        test_name: If given, return only that function's cases.

    Returns:
        ``dict[str, list[Case]]`` of every block, or ``list[Case]`` for ``test_name``.

    Raises:
        CaseFileError: One line, ``file:line:col: problem``, for a missing file, bad YAML
            syntax, an unknown key, a duplicate or missing id, or an unknown test name.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.yaml"
        >>> text = "test_add:\n  - id: one\n    args: {a: 1}\n    expected: 2\n"
        >>> _ = p.write_text(text)
        >>> load_cases(p, "test_add")[0].args
        {'a': 1}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseFileError(f"{path}:1:1: cannot read case file ({exc.strerror})") from None
    error: yaml.MarkedYAMLError | None = None
    try:
        blocks = _parse(path, text)
    except yaml.MarkedYAMLError as exc:
        error = exc
    if error is not None:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise CaseFileError(f"{path}:{line}:{col}: YAML syntax error: {error.problem}")
    if test_name is None:
        return blocks
    if test_name not in blocks:
        raise CaseFileError(f"{path}:1:1: no cases for {test_name!r}")
    return blocks[test_name]
