"""Bounded settings files: size cap, text only, YAML node/depth caps, safe tags, excerpts.

Bounds checked here (the worst hand-written cases): each refusal is one ``SettingsError``
line starting with the file name, takes < 2 s (measured: < 0.2 s) and peaks < 50 MB
(``tracemalloc``; measured: < 10 MB).
"""

import time
import tracemalloc

import pytest
from finance_demo import SettingsError, load_settings, load_settings_file
from finance_demo.config import MAX_SETTINGS_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, excerpt

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)

#: name -> (file content, a fragment of the message)
WORST = {
    "billion_laughs": (BILLION_LAUGHS.encode(), f"more than {MAX_YAML_NODES} YAML nodes"),
    "laughs_in_a_value": (
        (BILLION_LAUGHS.replace("i: &i", "model:\n  horizons: &i")).encode(),
        "YAML nodes",
    ),
    "deep_list": (b"[" * 100_000 + b"]" * 100_000, "nest"),  # libyaml: "maximum nesting"
    "deep_mapping": (b"{a: " * 100_000 + b"}" * 100_000, f"nested deeper than {MAX_YAML_DEPTH}"),
    "deep_block": ("".join("  " * i + "- \n" for i in range(500)).encode(), "nested deeper"),
    "1mb_string": (b'evaluation:\n  level: "' + b"x" * 1_040_000 + b'"\n', "must be a number"),
    "1mb_comment": (b"#" + b"x" * 1_040_000 + b"\nevaluation: {level: 2}\n", "between 0 and 1"),
    "1mb_string_for_an_int": (
        b'training:\n  epochs: "' + b"x" * 1_040_000 + b'"\n',
        "training.epochs must be a positive integer, got 'xxx",
    ),
    "1mb_flat_list": (b"model:\n  horizons: [" + b"1, " * 340_000 + b"]\n", "YAML nodes"),
    "100k_keys": (b"".join(b"k%d: 1\n" % i for i in range(100_000)), "YAML nodes"),
    "too_big": (b"# " + b"x" * MAX_SETTINGS_BYTES + b"\n", "larger than 1048576 bytes"),
    "binary": (bytes(range(256)) * 64, "not a text file"),
    "latin1": ("buffer:\n  buffer_size: 30 # caf\xe9\n".encode("latin-1"), "not a UTF-8 text"),
    "python_tag": (b"training: !!python/object/apply:os.system ['echo hi']\n", "constructor"),
    "long_tag": (b"training: !<" + b"t" * 500_000 + b"> 1\n", "could not determine a constructor"),
    "long_undefined_alias": (b"training: *" + b"a" * 500_000 + b"\n", "undefined alias"),
    "recursive_alias": (b"a: &x [1, *x]\n", "recursive YAML alias"),
    "bad_int_tag": (b"training:\n  epochs: !!int abc\n", "bad int value 'abc'"),
    "empty_int_tag": (b'training:\n  epochs: !!int ""\n', "bad int value '' (IndexError)"),
    "huge_int_scalar": (b"training:\n  seed: " + b"9" * 5000 + b"\n", "bad int value"),
    "bad_timestamp": (b"data:\n  period: !!timestamp 2020-13-45\n", "bad timestamp value"),
}


@pytest.fixture
def write(tmp_path):
    def write(data: bytes):
        path = tmp_path / "s.yaml"
        path.write_bytes(data)
        return path

    return write


@pytest.mark.parametrize("name", WORST)
def test_worst_files_fail_fast_in_one_line(write, name):
    data, fragment = WORST[name]
    path = write(data)
    start = time.perf_counter()
    with pytest.raises(SettingsError) as info:
        load_settings_file(path)
    elapsed = time.perf_counter() - start  # timed without tracemalloc, which slows it 5-10x
    tracemalloc.start()
    try:
        with pytest.raises(SettingsError):
            load_settings_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert fragment in message
    assert "\n" not in message and len(message) < 300
    assert elapsed < 2.0, f"{name}: {elapsed:.2f} s"
    assert peak < 50e6, f"{name}: {peak / 1e6:.1f} MB"


@pytest.mark.parametrize(
    "name", ["billion_laughs", "deep_list", "deep_mapping", "deep_block", "recursive_alias"]
)
def test_pure_python_loader_has_the_same_bounds(write, monkeypatch, name):
    """Without libyaml the SafeLoader subclass refuses the same files."""
    import yaml
    from finance_demo.config import _bounded_loader

    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    _bounded_loader.cache_clear()
    try:
        assert issubclass(_bounded_loader(), yaml.SafeLoader)
        start = time.perf_counter()
        with pytest.raises(SettingsError, match=r"YAML nodes|nested deeper|recursive YAML alias"):
            load_settings_file(write(WORST[name][0]))
        assert time.perf_counter() - start < 2.0
    finally:
        _bounded_loader.cache_clear()


def test_big_file_read_is_capped(write, monkeypatch):
    """Only cap + 1 bytes are read, however big the file."""
    path = write(b"#" * (MAX_SETTINGS_BYTES * 8))
    sizes = []
    real_open = type(path).open

    def spy(self, *args, **kwargs):
        f = real_open(self, *args, **kwargs)
        real_read = f.read

        class Spy:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def read(self, n=-1):
                sizes.append(n)
                return real_read(n)

        return Spy()

    monkeypatch.setattr(type(path), "open", spy)
    with pytest.raises(SettingsError, match="larger than"):
        load_settings_file(path)
    assert sizes == [MAX_SETTINGS_BYTES + 1]


def test_file_at_the_cap_is_read(write):
    body = b"training:\n  epochs: 3\n"
    path = write(body + b"#" * (MAX_SETTINGS_BYTES - len(body) - 1) + b"\n")
    assert load_settings_file(path).training.epochs == 3


def test_aliases_within_the_cap_still_work(write):
    path = write(b"model:\n  horizons: &h [1, 5]\n# again: *h\n")
    assert load_settings_file(path).model.horizons == (1, 5)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        ("x" * 1_000_000, 80),
        (list(range(1_000_000)), 80),
        ({i: [i] * 1000 for i in range(10_000)}, 80),
        (10**100_000, 80),
        ("a\nb" * 1000, 40),
        (b"\x00" * 10_000, 80),
        (frozenset(range(1000)), 30),
        ((1, (2, (3, "four" * 100))), 30),
    ],
    ids=["str", "list", "dict", "huge_int", "newlines", "bytes", "frozenset", "nested"],
)
def test_excerpt_is_bounded_and_one_line(value, limit):
    out = excerpt(value, limit)
    assert len(out) <= limit and "\n" not in out


def test_excerpt_of_deep_and_recursive_structures():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    loop: list = [1]
    loop.append(loop)
    assert excerpt(deep).startswith("[[[[") and len(excerpt(deep)) <= 80
    assert len(excerpt(loop)) <= 80


def test_excerpt_of_small_values_is_their_repr():
    assert excerpt([1, "two", {"three": 3.0}, None, True]) == repr(
        [1, "two", {"three": 3.0}, None, True]
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"buffer": list(range(100_000))},
        {"buffer": "x" * 100_000},
        {"data": {"symbol": ["A"] * 100_000}},
        {"data": {"period": 10**10_000}},
        {"x" * 100_000: {}},
        {("k",) * 10_000: {}},
        {"training": {"x\n" * 1000: 1}},
        {"evaluation": {"level": 10**10_000}},
        {"evaluation": {"test_fraction": 10**10_000}},
        {"evaluation": {"level": "y" * 100_000}},
    ],
    ids=lambda raw: excerpt(raw, 30),
)
def test_settings_messages_show_bounded_excerpts(raw):
    with pytest.raises(SettingsError) as info:
        load_settings(raw)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message[:500]


@pytest.mark.parametrize("name", ["test_fraction", "level"])
@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), True, 10**400, -(10**400), "0.1", [0.1]],
    ids=["nan", "inf", "-inf", "true", "huge", "-huge", "str", "list"],
)
def test_evaluation_numbers_at_the_edges(name, value):
    with pytest.raises(SettingsError) as info:
        load_settings({"evaluation": {name: value}})
    message = str(info.value)
    assert message.startswith(f"evaluation.{name} must be ") and "\n" not in message
    assert len(message) < 200
