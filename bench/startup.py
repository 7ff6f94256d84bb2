"""How long `redriva-toolkit serve` takes from launch to its first health answer.

Goal (issue 2): under 2 s on this machine. Runs N cold starts on a fresh data dir (first
start: creates and migrates the database) and N warm starts (database up to date), and, for
scale, the time `python -c "import quart"` takes in the same run.

    .venv/bin/python bench/startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toolkit.testing import free_port  # noqa: E402

EXE = str(Path(sys.executable).parent / "redriva-toolkit")


def one_start(data_dir: str) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([EXE, "serve", "--port", str(port)],
                            env={**os.environ, "TOOLKIT_DATA_DIR": data_dir},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/toolkit/health", timeout=1)
                return time.perf_counter() - started
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError("the server exited")
                time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as data_dir:
            cold.append(one_start(data_dir))
            warm.append(one_start(data_dir))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import quart"], check=True)
    quart_import = time.perf_counter() - t
    print(f"cold start (new database): median {statistics.median(cold):.2f} s, "
          f"max {max(cold):.2f} s")
    print(f"warm start (database up to date): median {statistics.median(warm):.2f} s, "
          f"max {max(warm):.2f} s")
    print(f"python -c 'import quart': {quart_import:.2f} s")


if __name__ == "__main__":
    main()
