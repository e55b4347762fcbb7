"""Throughput and latency of ``POST /forecast`` on a real ``stock-analyzer serve``.

Starts the server (uvicorn, one process) on a free port over a temporary registry holding
one model (the default network, trained 1 epoch on the shipped IBM sample; or
``--registry DIR --model ID``), then fires requests from ``--clients`` concurrent
asyncio clients (one keep-alive connection each; plain asyncio streams by default, or
``--client httpx``) and prints requests/s, p50/p99 latency and
errors for three loads, measured in the same run:

- ``GET /health``: the HTTP floor (FastAPI + uvicorn + the client, no model);
- ``POST /forecast``, same request: the model is cached and the forecast memoized (same
  model version, same candles), the case a dashboard polling a symbol hits;
- ``POST /forecast``, a distinct ``level`` per request: every request runs the network
  over its last 100 sequences (the regime window), no memo.

The client runs on the same machine as the server and takes its share of the cores; the
CPU time each side spent per request is printed too (it does not depend on what else the
machine runs, unlike the wall-clock figures), with the load average of the run.

    .venv/bin/python benchmarks/bench_serve.py [--clients 32] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

EXE = Path(sys.executable).parent / "stock-analyzer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_model(registry: Path) -> str:
    from data_fetcher import Fetcher
    from finance_demo import Registry, load_settings, train_model

    candles = Fetcher("IBM", interval="1d", source="sample").fetch_historical()
    settings = load_settings({"training": {"epochs": 1}})  # the default network, 1 epoch
    model = train_model(candles, settings, symbol="IBM", interval="1d")
    return Registry(registry).add(model).id


async def raw_request(reader: Any, writer: Any, head: bytes, payload: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive request on an open connection; returns (status, body)."""
    writer.write(head + payload)
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header[9:12])
    length = 0
    for line in header.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def load_raw(url: str, method: str, bodies: list, clients: int) -> dict:
    """The load from plain asyncio streams: a few microseconds of client CPU a request."""
    host, port = url.rsplit("//", 1)[1].split(":")
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(bodies))

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while queue:
                body = queue.pop()
                if method == "GET":
                    head, payload = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", b""
                else:
                    payload = json.dumps(body).encode()
                    head = (
                        b"POST /forecast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                        b"\r\nContent-Length: %d\r\n\r\n" % len(payload)
                    )
                start = time.perf_counter()
                try:
                    status, answer = await raw_request(reader, writer, head, payload)
                    ok = status == 200 and answer[:1] == b"{"
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return summary(latencies, errors, time.perf_counter() - start)


def summary(latencies: list[float], errors: int, elapsed: float) -> dict:
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": 1e3 * statistics.median(latencies),
        "p99": 1e3 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": errors,
    }


async def load_httpx(url: str, method: str, bodies: list, clients: int) -> dict:
    """The same load from httpx.AsyncClient (about 4 ms of client CPU a request)."""
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(bodies))

    async def worker() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            while queue:
                body = queue.pop()
                start = time.perf_counter()
                try:
                    if method == "GET":
                        r = await client.get("/health")
                    else:
                        r = await client.post("/forecast", json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return summary(latencies, errors, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--registry", help="Use this registry (default: a temporary one).")
    parser.add_argument("--model", help="Model id in --registry (default: train one).")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: HTTP/1.1 over asyncio streams (light); httpx: httpx.AsyncClient",
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    registry = Path(args.registry or tmp.name)
    model_id = args.model or make_model(registry)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "STOCK_ANALYZER_TOKEN"}
    server = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), "--registry", str(registry)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        same = {"symbol": "IBM", "model": model_id, "source": "sample"}
        warm = httpx.post(url + "/forecast", json=same, timeout=60)
        assert warm.status_code == 200, warm.text
        n, c = args.requests, args.clients
        distinct = [{**same, "level": 0.5 + 0.45 * i / n} for i in range(n)]
        print(
            f"stock-analyzer serve, model {model_id}, {c} concurrent clients, {n} requests "
            f"each, {args.client} client, {os.cpu_count()} CPUs (client and server on the "
            "same machine)"
        )
        print(
            f"{'load':32} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
            f"{'server CPU ms/req':>17} {'client CPU ms/req':>17}"
        )
        rows = [
            ("GET /health (HTTP floor)", "GET", [None] * n),
            ("POST /forecast, memoized", "POST", [same] * n),
            ("POST /forecast, computed each", "POST", distinct),
        ]
        results = {}
        for label, method, bodies in rows:
            server_cpu, client_cpu = cpu_seconds(server.pid), own_cpu_seconds()
            loader = load_raw if args.client == "raw" else load_httpx
            r = asyncio.run(loader(url, method, bodies, c))
            r["server_ms"] = 1e3 * (cpu_seconds(server.pid) - server_cpu) / n
            r["client_ms"] = 1e3 * (own_cpu_seconds() - client_cpu) / n
            results[label] = r
            print(
                f"{label:32} {r['rps']:7.0f} {r['p50']:7.1f} {r['p99']:7.1f} {r['errors']:6d} "
                f"{r['server_ms']:17.2f} {r['client_ms']:17.2f}"
            )
        floor = results["GET /health (HTTP floor)"]["rps"]
        for label in ("POST /forecast, memoized", "POST /forecast, computed each"):
            r = results[label]
            print(
                f"{label}: {r['rps'] / floor:.2f}x the HTTP floor's throughput; the server's "
                f"CPU alone would allow about {1e3 / r['server_ms']:.0f} req/s on one free core"
            )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        tmp.cleanup()


if __name__ == "__main__":
    main()
