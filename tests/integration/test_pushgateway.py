"""`promptgen build --push-gateway` against a REAL Prometheus Pushgateway (Debian `prometheus-pushgateway`).

The fixture starts the gateway on 127.0.0.1 with a free port and a temporary persistence file, waits for
`/-/ready`, and stops it (terminate + wait) at the end. The test pushes a build's metrics through the
CLI, scrapes `/metrics` over HTTP and compares every promptgen sample with the same build's `--json`.
Without the binary the tests skip with the reason -- except under `CI=true`, where that is a failure
(`.ci/run` installs the package).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from metrics_check import assert_metrics_match_build, samples
from prometheus_client.parser import text_string_to_metric_families

BINARY = "prometheus-pushgateway"
EXEC_32 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"


def find_binary() -> str | None:
    return shutil.which(BINARY) or next(
        (p for p in ("/usr/bin/" + BINARY, "/usr/local/bin/" + BINARY) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.status, resp.read().decode("utf-8")


class Gateway:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def scrape(self) -> str:
        status, text = http_get(self.url + "/metrics")
        assert status == 200
        return text


def _start(binary: str, tmp: Path) -> Gateway | None:
    port = free_port()
    log = tmp / f"pushgateway-{port}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                                 f"--persistence.file={tmp / 'pushgateway.store'}", "--log.level=warn"],
                                stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None  # e.g. the port was taken between free_port() and the bind: retry
        try:
            if http_get(url + "/-/ready", timeout=1)[0] == 200:
                return Gateway(proc, url, log)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    proc.terminate()
    proc.wait(10)
    pytest.fail(f"{BINARY} did not become ready within 20 s:\n{log.read_text(errors='replace')}")


@pytest.fixture
def pushgateway(tmp_path):
    binary = find_binary()
    if binary is None:
        msg = (f"{BINARY} is not installed (apt-get install prometheus-pushgateway); "
               "the real-Pushgateway test cannot run")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " -- and CI=true, where it is required")
        pytest.skip(msg)
    gw_dir = tmp_path / "pushgateway"
    gw_dir.mkdir()
    gw = None
    for _attempt in range(3):
        gw = _start(binary, gw_dir)
        if gw is not None:
            break
    if gw is None:
        pytest.fail(f"{BINARY} exited at start-up:\n" + "\n".join(
            p.read_text(errors="replace") for p in gw_dir.glob("*.log")))
    try:
        yield gw
    finally:
        gw.proc.terminate()
        try:
            gw.proc.wait(10)
        except subprocess.TimeoutExpired:
            gw.proc.kill()
            gw.proc.wait(10)


def push_build(cli, root: Path, gw: Gateway, *extra: str) -> dict:
    res = cli("build", "--root", str(root), "--json", "--push-gateway", gw.url, *extra, timeout=60)
    assert res.code == 0, res.err
    assert "cannot push" not in res.err, res.err
    return res.json()


def test_pushed_metrics_match_the_builds_json(cli, workspace, pushgateway):
    cold = push_build(cli, workspace, pushgateway)
    text = pushgateway.scrape()
    assert_metrics_match_build(text, cold, job="promptgen")  # --job defaults to "promptgen"
    assert len(cold["recomputed"]) == cold["nodes_total"]

    # An edit gives hits, misses and cutoffs; the push replaces the job's group (no stale series left).
    with open(workspace / EXEC_32, "a", encoding="utf-8") as fh:
        fh.write("\n- One more note from the field.\n")
    edit = push_build(cli, workspace, pushgateway)
    kinds = {r for c in edit["by_type"].values() for r, n in c.items() if n}
    assert kinds == {"hit", "miss", "cutoff"}
    text2 = pushgateway.scrape()
    assert_metrics_match_build(text2, edit, job="promptgen")
    pushed = samples(text2, job="promptgen")
    assert len(pushed["promptgen_build_duration_seconds_count"]) == 1

    # The gateway recorded a successful push for the group.
    fams = {f.name: f for f in text_string_to_metric_families(text2)}
    assert any(s.labels.get("job") == "promptgen" and s.value > 0 for s in fams["push_time_seconds"].samples)
    assert not any(s.labels.get("job") == "promptgen" and s.value > 0
                   for s in fams["push_failure_time_seconds"].samples)


def test_job_name_selects_the_group(cli, workspace, pushgateway):
    doc = push_build(cli, workspace, pushgateway, "--job", "nightly-docs")
    text = pushgateway.scrape()
    assert_metrics_match_build(text, doc, job="nightly-docs")
    assert "promptgen_nodes_total" not in samples(text, job="promptgen")
