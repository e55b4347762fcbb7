import io
import json
import math

import pytest
from finance_demo import LiveMetrics, PredictionLog


def test_live_metrics(args, expected):
    m = LiveMetrics()
    for row in args["rows"]:
        m.update(*row)
    got = m.to_dict()
    assert got["outcomes"] == len(args["rows"])
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_live_metrics_empty_is_nan():
    m = LiveMetrics()
    assert m.count == 0 and math.isnan(m.mae) and math.isnan(m.coverage)


def test_log_writes_one_flushed_line_per_record(tmp_path):
    path = tmp_path / "deep" / "log.jsonl"
    log = PredictionLog(path)
    log.write({"a": 1, "x": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1, "x": None}  # before close()
    log.write({"a": 2})
    log.close()
    assert [json.loads(x)["a"] for x in path.read_text().splitlines()] == [1, 2]
    with PredictionLog(path, fsync=True) as again:  # appends
        again.write({"a": 3})
    assert len(path.read_text().splitlines()) == 3


def test_log_to_stream_and_nowhere():
    stream = io.StringIO()
    with PredictionLog(stream) as log:
        log.write({"k": "v"})
    assert stream.getvalue() == '{"k": "v"}\n' and not stream.closed
    nowhere = PredictionLog(None)
    nowhere.write({"k": 1})
    assert nowhere.lines == 1
