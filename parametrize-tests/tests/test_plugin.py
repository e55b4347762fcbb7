"""The plugin, exercised end to end in throw-away projects with pytest's ``pytester``."""

import textwrap
from pathlib import Path

import pytest
from parametrize_tests import CaseFileError, load_cases

pytest_plugins = ["pytester"]

CONFIG_DIR = Path(__file__).parent / "config"

INI = """
[pytest]
addopts = --strict-markers
markers =
    slow: a slow case
"""

ADD_SOURCE = """\
def test_add(args, expected):
    assert args["a"] + args["b"] == expected
"""

HAPPY_CASES = """
test_add:
  - id: one_plus_one
    args: {a: 1, b: 1}
    expected: 2
  - id: wrong_on_purpose
    args: {a: 1, b: 1}
    expected: 3
    marks: [xfail]
  - id: skipped
    args: {a: 0, b: 0}
    expected: 0
    marks: [{skip: "not today"}]
  - id: big
    args: {a: 1000000, b: 1}
    expected: 1000001
    marks: [slow]
test_only_args:
  - id: positive
    args: {n: 3}
  - id: zero
    args: {n: 0}
"""

HAPPY_SOURCE = (
    ADD_SOURCE
    + """
def test_only_args(args):
    assert args["n"] >= 0

def test_plain():
    pass

class TestGrouped:
    def test_add(self, args, expected):
        assert args["a"] + args["b"] == expected
"""
)


def make_project(pytester, source, cases=None, name="test_mod"):
    """A project with test module ``name`` and, if given, its ``config/<name>.yaml``."""
    pytester.makeini(INI)
    pytester.makepyfile(**{name: source})
    if cases is not None:
        config = pytester.mkdir("config")
        (config / f"{name}.yaml").write_text(textwrap.dedent(cases), encoding="utf-8")


def error_lines(result):
    """The lines of the single collection error, between its header and the summary."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "ERROR collecting" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return [line for line in lines[start + 1 : end] if line.strip()]


# --- happy path ---------------------------------------------------------------------


def test_cases_become_ids_with_marks(pytester):
    make_project(pytester, HAPPY_SOURCE, HAPPY_CASES)
    result = pytester.runpytest("-v", "-rsx")
    # test_add: 4 cases x (module + class): 2 pass, 1 xfail, 1 skip each; 2 + 1 more pass
    result.assert_outcomes(passed=7, skipped=2, xfailed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_mod.py::test_add[[]one_plus_one[]] PASSED*",
            "*test_mod.py::test_add[[]wrong_on_purpose[]] XFAIL*",
            "*test_mod.py::test_only_args[[]zero[]] PASSED*",
            "*test_mod.py::TestGrouped::test_add[[]big[]] PASSED*",
            "SKIPPED [[]2[]] test_mod.py*: not today",
        ]
    )


def test_k_selects_one_case(pytester):
    make_project(pytester, HAPPY_SOURCE, HAPPY_CASES)
    result = pytester.runpytest("-v", "-k", "one_plus_one and not Grouped")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_add[[]one_plus_one[]] PASSED*"])


def test_registered_marker_selects_cases(pytester):
    make_project(pytester, HAPPY_SOURCE, HAPPY_CASES)
    pytester.runpytest("-m", "slow").assert_outcomes(passed=2)
    pytester.runpytest("-m", "not slow").assert_outcomes(passed=5, skipped=2, xfailed=2)


def test_failure_names_the_case(pytester):
    make_project(
        pytester,
        ADD_SOURCE,
        "test_add:\n  - id: off_by_one\n    args: {a: 1, b: 2}\n    expected: 4\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED test_mod.py::test_add[[]off_by_one[]] - assert*"])


def test_module_without_cases_is_untouched(pytester):
    make_project(pytester, "def test_plain():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_null_expected_is_passed(pytester):
    make_project(
        pytester,
        "def test_none(args, expected):\n    assert expected is None and args == {}\n",
        "test_none:\n  - id: nothing\n    expected: null\n",
    )
    pytester.runpytest().assert_outcomes(passed=1)


# --- error paths: one line naming file:line, collection stops -------------------------


def test_case_file_error(pytester, args, expected):
    source = args.get("source", ADD_SOURCE)
    make_project(pytester, source, args.get("yaml"))
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "Traceback" not in result.stdout.str()
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected["where"] + ":"), lines[0]
    assert expected["message"] in lines[0]


def test_loader_reports_the_same_errors(tmp_path):
    """Every loader-level case of the error table, through ``load_cases`` alone."""
    table = load_cases(CONFIG_DIR / "test_plugin.yaml", "test_case_file_error")
    loader_cases = [c for c in table if c.expected.get("stage") == "load"]
    assert len(loader_cases) >= 8
    for case in loader_cases:
        path = tmp_path / f"{case.id}.yaml"
        path.write_text(textwrap.dedent(case.args["yaml"]), encoding="utf-8")
        with pytest.raises(CaseFileError) as info:
            load_cases(path)
        message = str(info.value)
        line = int(case.expected["where"].rsplit(":", 1)[1])
        assert message.startswith(f"{path}:{line}:"), (case.id, message)
        assert case.expected["message"] in message, case.id
        assert "\n" not in message


# --- load_cases from plain Python ------------------------------------------------------


def test_load_cases_returns_cases(tmp_path):
    path = tmp_path / "cases.yaml"
    path.write_text(HAPPY_CASES, encoding="utf-8")
    blocks = load_cases(path)
    assert list(blocks) == ["test_add", "test_only_args"]
    first, xfail, skipped, big = blocks["test_add"]
    assert (first.id, first.args, first.expected, first.marks) == (
        "one_plus_one",
        {"a": 1, "b": 1},
        2,
        (),
    )
    assert first.line == 3 and first.block_line == 2 and first.has_expected
    assert xfail.marks == ("xfail",)
    assert skipped.marks == ({"skip": "not today"},)
    assert big.marks == ("slow",)
    only = load_cases(str(path), "test_only_args")
    assert [c.id for c in only] == ["positive", "zero"]
    assert not only[0].has_expected and only[0].expected is None


def test_load_cases_missing_file_and_block(tmp_path):
    with pytest.raises(CaseFileError, match=r"nope\.yaml:1:1: cannot read case file"):
        load_cases(tmp_path / "nope.yaml")
    path = tmp_path / "cases.yaml"
    path.write_text(HAPPY_CASES, encoding="utf-8")
    with pytest.raises(CaseFileError, match="no cases for 'test_sub'"):
        load_cases(path, "test_sub")


def test_empty_file_has_no_blocks(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_cases(path) == {}
