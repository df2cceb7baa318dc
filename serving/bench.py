"""Load benchmark of the routing API with ``wrk`` on loopback, beside ``mlflow models serve``.

For each model family (linear, encoder) it trains topic/urgency/lang champions in a throwaway
MLflow store, exports them, starts ``uvicorn`` on 127.0.0.1 and measures with ``wrk`` (a
C load generator, so the client does not saturate before the server): ``/v1/route`` at 1
and 50 connections, ``/v1/route/batch`` with 64-tweet batches; then the same load against
``mlflow models serve`` of the same registered topic model. Every load is bounded in time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from training.data import load_corpus_task
from training.taxonomy import REPO_ROOT

logger = logging.getLogger(__name__)
KEY = "bench-key"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class Load:
    """One wrk run."""

    name: str
    path: str
    bodies: list[str]
    connections: int
    items_per_request: int = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lua(bodies: list[str], headers: dict[str, str], folder: Path) -> Path:
    """A wrk script that rotates through request bodies (real tweets, not one repeated string)."""
    quoted = ",\n".join(json.dumps(b) for b in bodies)
    header_lines = "\n".join(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items())
    script = f"""wrk.method = "POST"
{header_lines}
local bodies = {{
{quoted}
}}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
"""
    path = folder / f"load-{len(bodies)}-{abs(hash(quoted)) % 10**8}.lua"
    path.write_text(script, encoding="utf-8")
    return path


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def parse_wrk(output: str) -> dict[str, float]:
    """p50/p99 latency (ms), requests/s and error counts from ``wrk --latency`` output."""
    out: dict[str, float] = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", output, re.M)
        out[f"p{pct}_ms"] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Requests/sec:\s+([\d.]+)", output)
    out["requests_per_second"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in", output)
    out["requests"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    out["non_2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    out["socket_errors"] = float(sum(int(g) for g in m.groups())) if m else 0.0
    return out


def run_wrk(url: str, load: Load, headers: dict[str, str], seconds: int, folder: Path) -> dict[str, Any]:
    """One bounded wrk run (one thread per 25 connections, at most 2)."""
    threads = max(1, min(2, load.connections // 25))
    script = _lua(load.bodies, headers, folder)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{load.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url + load.path,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    stats = parse_wrk(proc.stdout)
    stats["tweets_per_second"] = stats["requests_per_second"] * load.items_per_request
    return {"load": load.name, "connections": load.connections, **stats}


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _train_family(family: str, tracking_uri: str, export_dir: Path) -> None:
    from training.config import load_config
    from training.export import export_champions
    from training.promote import promote
    from training.train import train

    for task in ("topic", "urgency", "lang"):
        train(load_config(task if task != "lang" else "lang", [f"family={family}"]), tracking_uri)
        promote(task, tracking_uri=tracking_uri)
    export_champions(export_dir, ("topic", "urgency", "lang"), tracking_uri)


def _tweets(n: int = 200) -> list[str]:
    test = load_corpus_task(REPO_ROOT / "data" / "labels", "topic").test
    return test.texts[:n]


def _serve_and_load(
    command: Callable[[int], list[str]],
    ready_path: str,
    headers: dict[str, str],
    loads: list[Load],
    env: dict[str, str],
    log: Path,
    seconds: int,
    work: Path,
) -> list[dict[str, Any]]:
    """Start a server on a free port, wait until ``ready_path`` answers, run each wrk load, stop the server."""
    port = _free_port()
    server = _start(command(port), env, log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready_path}", server)
        return [run_wrk(f"http://127.0.0.1:{port}", load, headers, seconds, work) for load in loads]
    finally:
        _stop(server)


def bench_family(family: str, work: Path, seconds: int) -> dict[str, Any]:
    """Train + export a family, then load-test our API and mlflow's server on the same topic model."""
    tracking_uri = f"sqlite:///{work / family / 'mlflow.db'}"
    export_dir = work / family / "models"
    _train_family(family, tracking_uri, export_dir)
    tweets = _tweets()
    single = [json.dumps({"text": t}) for t in tweets]
    batches = [json.dumps({"items": [{"text": t} for t in (tweets * 2)[i : i + 64]]}) for i in range(0, 128, 16)]
    mlflow_single = [json.dumps({"dataframe_records": [{"text": t}]}) for t in tweets]
    mlflow_batch = [
        json.dumps({"dataframe_records": [{"text": t} for t in (tweets * 2)[i : i + 64]]}) for i in range(0, 128, 16)
    ]
    results: dict[str, Any] = {"family": family, "kemala": [], "mlflow": []}
    env = os.environ | {
        "KEMALA_API_KEYS": json.dumps([KEY]),
        "KEMALA_MODELS_DIR": str(export_dir),
        "KEMALA_DATABASE_URL": f"sqlite:///{work / family / 'log.db'}",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "KEMALA_FEEDBACK_PATH": str(work / family / "feedback.jsonl"),
    }
    # mlflow models serve execs `uvicorn` through a shell: the venv's bin must be on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    kemala_cmd = [sys.executable, "-m", "uvicorn", "serving.app:app", "--log-level", "warning", "--no-access-log"]
    results["kemala"] = _serve_and_load(
        lambda port: [*kemala_cmd, "--host", "127.0.0.1", "--port", str(port)],
        "/health/ready",
        {"Content-Type": "application/json", "X-API-Key": KEY},
        [
            Load("route", "/v1/route", single, 1),
            Load("route", "/v1/route", single, 50),
            Load("batch64", "/v1/route/batch", batches, 1, 64),
        ],
        env,
        work / family / "api.log",
        seconds,
        work,
    )
    mlflow_cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/kemala-topic@champion"]
    results["mlflow"] = _serve_and_load(
        lambda port: [*mlflow_cmd, "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1", "-w", "1"],
        "/ping",
        {"Content-Type": "application/json"},
        [
            Load("invocations", "/invocations", mlflow_single, 1),
            Load("invocations", "/invocations", mlflow_single, 50),
            Load("invocations-batch64", "/invocations", mlflow_batch, 1, 64),
        ],
        env,
        work / family / "mlflow-serve.log",
        seconds,
        work,
    )
    return results


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Routing API load test ({result['finished_at']}, {result['machine']})",
        "",
        f"Command: `{result['command']}` — wrk on 127.0.0.1, {result['seconds_per_load']} s per load, 1 uvicorn "
        "worker each. Kemala's `/v1/route` runs topic + urgency + lang models, region detection and writes the "
        "prediction log; `mlflow models serve` runs the topic model only.",
        "",
        "| family | server | load | conns | p50 ms | p99 ms | req/s | tweets/s | non-2xx |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for fam in result["families"]:
        for server in ("kemala", "mlflow"):
            for r in fam[server]:
                lines.append(
                    f"| {fam['family']} | {server} | {r['load']} | {r['connections']} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['requests_per_second']:.1f} | {r['tweets_per_second']:.1f} | "
                    f"{int(r['non_2xx'])} |"
                )
        pairs = zip(fam["kemala"], fam["mlflow"], strict=True)
        ratios = ", ".join(
            f"{k['load']}@{k['connections']}: {k['tweets_per_second'] / m['tweets_per_second']:.2f}×"
            for k, m in pairs
            if m["tweets_per_second"]
        )
        lines.append(f"\n{fam['family']}: Kemala / MLflow throughput ratio — {ratios}\n")
    return "\n".join(lines) + "\n"


def run_api_bench(families: tuple[str, ...], out_dir: Path, seconds: int = 10, command: str = "") -> dict[str, Any]:
    """Run the load test for each family; write ``api.json`` and ``api.md``."""
    import platform
    from datetime import UTC, datetime

    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian package `wrk`: apt-get install -y wrk)")
    work = Path(tempfile.mkdtemp(prefix="kemala-api-bench-"))
    try:
        fams = [bench_family(f, work, seconds) for f in families]
    except Exception:
        logger.error("benchmark failed; server logs kept in %s", work)
        raise
    shutil.rmtree(work, ignore_errors=True)
    result = {
        "command": command,
        "seconds_per_load": seconds,
        "families": fams,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "api.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out_dir / "api.md").write_text(to_markdown(result), encoding="utf-8")
    return result
