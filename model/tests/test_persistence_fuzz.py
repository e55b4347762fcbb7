"""Property test: loading generated garbage raises only ModelFileError, in bounded time/memory.

Bounds checked per example: at most 2 s of wall time, at most 50 MiB of traced Python
allocations (``tracemalloc``) and at most 100 MiB of peak-RSS growth (``ru_maxrss``).
"""

import json
import resource
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import Model, ModelFileError

TIME_S = 2.0
TRACED_BYTES = 50 * 2**20
RSS_KIB = 100 * 1024


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    m = Model(hidden_dim=4, num_layers=1)
    m.metadata = {"pipeline": {"symbol": "X", "horizons": [1]}}
    return m.save(tmp_path_factory.mktemp("fuzz") / "valid.pt").read_bytes()


def _load_bounded(path):
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        Model.load(path)
    except ModelFileError as e:
        assert "\n" not in str(e) and len(str(e)) < 600
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < TIME_S and peak < TRACED_BYTES
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start < RSS_KIB


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes(tmp_path, blob):
    path = tmp_path / "g.pt"
    path.write_bytes(blob)
    _load_bounded(path)


@_SETTINGS
@given(st.data())
def test_mutated_valid_files(tmp_path, valid, data):
    raw = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path / "g.pt"
    path.write_bytes(bytes(raw))
    _load_bounded(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@_SETTINGS
@given(st.data())
def test_mutated_headers(tmp_path, valid, data):
    n = int.from_bytes(valid[:8], "little")
    header, body = json.loads(valid[8 : 8 + n]), valid[8 + n :]
    meta = header["__metadata__"]
    target = data.draw(st.sampled_from(sorted(header)))
    if target == "__metadata__":
        key = data.draw(st.sampled_from(sorted(meta)))
        if key in ("config", "metadata", "training", "versions") and data.draw(st.booleans()):
            value = json.loads(meta[key])
            if isinstance(value, dict) and value:
                inner = data.draw(st.sampled_from(sorted(value)))
                value[inner] = data.draw(_json)
            meta[key] = json.dumps(value)
        else:
            meta[key] = json.dumps(data.draw(_json))
    else:
        field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", None]))
        if field is None:
            header[target] = data.draw(_json)
        else:
            header[target][field] = data.draw(_json)
    text = json.dumps(header).encode()
    path = tmp_path / "g.pt"
    path.write_bytes(len(text).to_bytes(8, "little") + text + body)
    _load_bounded(path)
