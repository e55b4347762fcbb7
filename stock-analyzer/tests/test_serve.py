"""The REST service: a real uvicorn server in a subprocess on a free port, talked to with httpx."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from data_fetcher import Fetcher
from finance_demo import Registry
from finance_demo.forecast import forecast
from stock_analyzer.cli import cli

from model import Model

EXE = Path(sys.executable).parent / "stock-analyzer"
TOKEN = "test-token-5f1c"
TINY = [
    "--buffer-size", "20", "--window-size", "4", "--groups", "trend_fft", "--seq-len", "5",
    "--hidden-dim", "4",
    "--num-layers", "1", "--epochs", "1", "--batch-size", "256", "--horizons", "1,5", "-q",
]  # fmt: skip
TINY_SETTINGS = {
    "buffer": {"buffer_size": 20},
    "features": {"window_size": 4, "groups": ["trend_fft"]},
    "model": {"seq_len": 5, "hidden_dim": 4, "num_layers": 1},
    "training": {"epochs": 1},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(registry, symbol="IBM", seed=0):
    argv = ["train", "--source", "sample", "--symbol", symbol, *TINY, "--seed", str(seed)]
    result = CliRunner().invoke(cli, [*argv, "--registry", str(registry), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["model_id"]


def start_server(registry, token_file, env=None):
    port = free_port()
    argv = [str(EXE), "serve", "--port", str(port), "--registry", str(registry)]
    argv += ["--token-file", str(token_file)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or os.environ
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.communicate()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not answer /health in 90 s")


def stop_server(proc):
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    registry = root / "registry"
    ids = [train(registry, "IBM", seed=0), train(registry, "^GSPC", seed=0)]
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")
    proc, url = start_server(registry, token_file)
    client = httpx.Client(base_url=url, timeout=60)
    yield {"url": url, "client": client, "registry": registry, "ids": ids, "root": root}
    client.close()
    _, err = stop_server(proc)
    assert "Traceback" not in err, err


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_health_and_docs(server):
    c = server["client"]
    body = c.get("/health").json()
    assert body["status"] == "ok" and body["version"]
    docs = c.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = c.get("/openapi.json").json()
    assert {
        "/health",
        "/models",
        "/models/{model_id}",
        "/forecast",
        "/train",
        "/jobs/{job_id}",
    } <= set(spec["paths"])


def test_models_list_and_show(server):
    c, ids = server["client"], server["ids"]
    listed = c.get("/models").json()
    assert [m["id"] for m in listed] == [e.id for e in Registry(server["registry"]).list()]
    assert set(ids) <= {m["id"] for m in listed} and "path" not in listed[0]
    ibm = c.get("/models", params={"symbol": "IBM"}).json()
    assert ibm and all(m["symbol"] == "IBM" for m in ibm)
    one = c.get(f"/models/{ids[1]}").json()
    assert one["id"] == ids[1] and one["metadata"]["pipeline"]["symbol"] == "^GSPC"
    missing = c.get("/models/IBM-1d-nope")
    assert missing.status_code == 404 and "no model 'IBM-1d-nope'" in missing.json()["error"]


def test_forecast_equals_the_library(server):
    c, ids = server["client"], server["ids"]
    r = c.post("/forecast", json={"symbol": "IBM", "source": "sample"})
    assert r.status_code == 200, r.text
    body = r.json()
    model = Model.load(Registry(server["registry"]).get(ids[0]).path)
    candles = Fetcher("IBM", interval="1d", source="sample").fetch_historical()
    expected = forecast(model, candles, symbol="IBM", label=ids[0]).to_dict()
    assert body == json.loads(json.dumps(expected))
    assert [h["horizon"] for h in body["horizons"]] == [1, 5]
    by_id = c.post("/forecast", json={"symbol": "IBM", "model": ids[0], "source": "sample"})
    assert by_id.json() == body
    sub = c.post(
        "/forecast", json={"symbol": "IBM", "source": "sample", "horizons": [5], "level": 0.5}
    ).json()
    assert [h["horizon"] for h in sub["horizons"]] == [5] and sub["level"] == 0.5
    wide, narrow = body["horizons"][1], sub["horizons"][0]
    assert (
        narrow["upper_return"] - narrow["lower_return"]
        < wide["upper_return"] - wide["lower_return"]
    )
    replay = c.post("/forecast", json={"symbol": "IBM", "source": "replay"}).json()
    assert replay["time"] < body["time"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"symbol": "IBM", "source": "sample", "level": 1.5}, "level: Input should be less than 1"),
        ({"source": "sample"}, "symbol: Field required"),
        (
            {"symbol": "IBM", "source": "ftp"},
            "source: Input should be 'yahoo', 'sample' or 'replay'",
        ),
        ({"symbol": "IBM", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"symbol": "../../etc", "source": "sample"}, "symbol: String should match pattern"),
        (
            {"symbol": "IBM", "horizons": [0]},
            "horizons.0: Input should be greater than or equal to 1",
        ),
        ({"symbol": "IBM", "source": "sample", "horizons": [7]}, "not 7"),
    ],
)
def test_bad_requests_are_422_with_a_readable_message(server, body, message):
    r = server["client"].post("/forecast", json=body)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"] and "Traceback" not in r.text


def test_not_json_and_unknown_routes_are_json_errors(server):
    c = server["client"]
    r = c.post("/forecast", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()
    assert c.get("/nope").json() == {"error": "Not Found"}
    assert c.put("/health").status_code == 405 and "error" in c.put("/health").json()


def test_no_model_is_404(server):
    c = server["client"]
    r = c.post("/forecast", json={"symbol": "MSFT", "source": "sample"})
    assert r.status_code == 404 and "no model for MSFT" in r.json()["error"]
    r = c.post("/forecast", json={"symbol": "IBM", "model": "IBM-1d-nope", "source": "sample"})
    assert r.status_code == 404


def test_bodies_over_64_kib_are_413(server):
    c = server["client"]
    big = json.dumps({"symbol": "IBM", "pad": "x" * 70_000})
    r = c.post("/forecast", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over 65536 bytes" in r.json()["error"]

    def chunks():
        for _ in range(20):
            yield b"x" * 8192

    chunked = c.post("/forecast", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    assert c.get("/health").status_code == 200


def test_delete_and_train_need_the_token(server):
    c, ids = server["client"], server["ids"]
    for method, path, body in (
        ("DELETE", f"/models/{ids[1]}", None),
        ("POST", "/train", {"symbol": "IBM", "source": "sample"}),
    ):
        missing = c.request(method, path, json=body)
        assert missing.status_code == 401 and "missing Authorization" in missing.json()["error"]
        wrong = c.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json() == {"error": "wrong token"}
    assert c.get(f"/models/{ids[1]}").status_code == 200  # still there


def test_train_job_runs_to_completion(server):
    c = server["client"]
    bad = c.post(
        "/train",
        json={"symbol": "IBM", "source": "sample", "settings": {"model": {"x": 1}}},
        headers=AUTH,
    )
    assert bad.status_code == 422 and "model.x" in bad.json()["error"]
    r = c.post(
        "/train",
        json={"symbol": "MSFT", "source": "sample", "settings": TINY_SETTINGS},
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = c.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.3)
    assert job["status"] == "done", job
    assert job["model_id"].startswith("MSFT-1d-") and "h1" in job["evaluation"]
    assert c.get(f"/models/{job['model_id']}").status_code == 200
    fc = c.post("/forecast", json={"symbol": "MSFT", "source": "sample"})
    assert fc.status_code == 200 and fc.json()["model"] == job["model_id"]
    assert c.get("/jobs/nope").status_code == 404
    failed = c.post("/train", json={"symbol": "NOPE", "source": "sample"}, headers=AUTH).json()
    for _ in range(100):
        job = c.get(f"/jobs/{failed['job']}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "failed" and "no sample data for symbol 'NOPE'" in job["error"]


def test_delete_makes_it_404(server):
    c = server["client"]
    extra = Registry(server["registry"]).add(
        Registry(server["registry"]).get(server["ids"][0]).path
    )
    body = {"symbol": "IBM", "model": extra.id, "source": "sample"}
    assert c.post("/forecast", json=body).status_code == 200
    r = c.delete(f"/models/{extra.id}", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"deleted": extra.id}
    assert c.get(f"/models/{extra.id}").status_code == 404
    gone = c.post("/forecast", json=body)
    assert gone.status_code == 404 and "error" in gone.json()
    assert c.delete(f"/models/{extra.id}", headers=AUTH).status_code == 404


def test_a_changed_file_is_reloaded_and_a_broken_one_is_a_500(server, tmp_path):
    c, reg = server["client"], Registry(server["registry"])
    other = train(tmp_path / "other", "IBM", seed=7)
    other_path = Registry(tmp_path / "other").get(other).path
    entry = reg.add(reg.get(server["ids"][0]).path)
    body = {"symbol": "IBM", "model": entry.id, "source": "sample"}
    before = c.post("/forecast", json=body).json()
    time.sleep(0.05)
    tmp = entry.path.with_suffix(".tmp")
    shutil.copyfile(other_path, tmp)
    os.replace(tmp, entry.path)  # a new version of the file: new mtime, other weights
    after = c.post("/forecast", json=body).json()
    assert after["horizons"] != before["horizons"]
    candles = Fetcher("IBM", interval="1d", source="sample").fetch_historical()
    expected = forecast(Model.load(other_path), candles, symbol="IBM", label=entry.id).to_dict()
    assert after == json.loads(json.dumps(expected))
    entry.path.write_bytes(entry.path.read_bytes()[:500])  # truncated
    broken = c.post("/forecast", json=body)
    assert broken.status_code == 500 and "model file" in broken.json()["error"]
    assert "Traceback" not in broken.text
    assert c.get("/health").status_code == 200  # the server is still up
    good = c.post(
        "/forecast", json={"symbol": "IBM", "model": server["ids"][0], "source": "sample"}
    )
    assert good.status_code == 200
    entry.path.unlink()


def test_64_concurrent_forecasts_over_16_threads(server):
    url = server["url"]
    bodies = [
        {"symbol": s, "source": "sample", "level": lv}
        for s in ("IBM", "^GSPC")
        for lv in (0.5, 0.8, 0.9, 0.95)
    ] * 8

    def call(body):
        with httpx.Client(base_url=url, timeout=60) as client:
            r = client.post("/forecast", json=body)
            return r.status_code, body, r.json()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, bodies))
    assert len(results) == 64 and all(code == 200 for code, _, _ in results)
    by_request = {}
    for _, body, answer in results:
        key = (body["symbol"], body["level"])
        by_request.setdefault(key, answer)
        assert by_request[key] == answer and answer["level"] == body["level"]


def test_refuses_a_public_host_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "STOCK_ANALYZER_TOKEN"}
    argv = [str(EXE), "serve", "--host", "0.0.0.0", "--registry", str(tmp_path)]
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("Error: refusing to listen on 0.0.0.0")
    assert len(r.stderr.strip().splitlines()) == 1


def test_token_from_the_environment_and_no_token_means_read_only(tmp_path):
    registry = tmp_path / "reg"
    registry.mkdir()
    token_file = tmp_path / "t"
    token_file.write_text("from-file\n")
    env = {**os.environ, "STOCK_ANALYZER_TOKEN": "from-env"}
    port = free_port()
    argv = [str(EXE), "serve", "--port", str(port), "--registry", str(registry)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(450):
            try:
                httpx.get(url + "/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        ok = httpx.delete(url + "/models/x", headers={"Authorization": "Bearer from-env"})
        assert ok.status_code == 404  # authorized, then no such model
    finally:
        stop_server(proc)
    env.pop("STOCK_ANALYZER_TOKEN")
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        for _ in range(450):
            try:
                httpx.get(url + "/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        refused = httpx.post(
            url + "/train", json={"symbol": "IBM"}, headers={"Authorization": "Bearer x"}
        )
        assert refused.status_code == 403 and "this server has no token" in refused.json()["error"]
        assert httpx.get(url + "/models").json() == []
    finally:
        stop_server(proc)
    empty = tmp_path / "empty"
    empty.write_text("")
    r = subprocess.run(
        [*argv, "--token-file", str(empty)], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 1 and "is empty" in r.stderr


def test_without_the_extra_one_line_names_it(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['uvicorn'] = None\n"
        "sys.modules['fastapi'] = None\n"
        "from stock_analyzer.cli import main\n"
        f"sys.argv = ['stock-analyzer', 'serve', '--registry', {str(tmp_path)!r}]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert (
        r.stderr.strip().splitlines() == [r.stderr.strip()]
        and "pip install 'stock-analyzer[serve]'" in r.stderr
    )


def test_model_cache_is_a_bounded_lru_that_reloads_changed_files(server, tmp_path):
    from stock_analyzer.serve_app import ModelCache

    source = Registry(server["registry"]).get(server["ids"][0]).path
    files = []
    for i in range(3):
        files.append(tmp_path / f"m{i}.safetensors")
        shutil.copyfile(source, files[-1])
    cache = ModelCache(size=2)
    first = cache.get(files[0])
    assert cache.get(files[0]) is first and cache.loads == 1
    cache.get(files[1])
    cache.get(files[2])  # evicts files[0], the least recently used
    assert len(cache) == 2 and cache.version(files[0]) is None and cache.loads == 3
    cache.get(files[1])
    assert cache.loads == 3  # still cached
    tmp = tmp_path / "new.tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, files[1])  # same bytes, a new file
    assert cache.get(files[1]) is not None and cache.loads == 4
    files[2].unlink()
    with pytest.raises(FileNotFoundError):
        cache.get(files[2])
