"""Does the web stay responsive while a big scan runs? Status and history latency, p99.

    .venv/bin/python bench/symlink_web_latency.py --links 100000 [--workers 6] [--dir /tmp/bench-web]

Builds (once) a library of N links (2 % broken, so thousands of problem rows are written
during the scan), serves the real app with hypercorn on 127.0.0.1 in this process (the scan
runs in the same process as the event loop, as in production), measures the latency of
``GET /api/symlink/scan/status/<id>`` and ``GET /api/symlink/scans/history`` first while
idle, then in a loop for as long as the scan runs. Prints p50/p95/p99/max for both and the
ratio busy/idle. The goal: p99 < 50 ms during the scan.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.testing import ServedApp, make_app, make_config  # noqa: E402

TARGETS = 1000


def build(root: Path, links: int) -> Path:
    media, store = root / f"media-{links}", root / f"store-{links}"
    if (media / ".complete").exists():
        return media
    store.mkdir(parents=True, exist_ok=True)
    for index in range(TARGETS):
        with open(store / f"f{index}.mkv", "wb") as handle:
            handle.truncate(2 << 20)  # sparse 2 MiB
    for index in range(links):
        folder = media / f"Show {index // 10000:02d}" / f"Season {index // 100 % 100:02d}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        target = store / (f"missing{index}.mkv" if index % 50 == 0 else f"f{index % TARGETS}.mkv")
        os.symlink(target, folder / f"episode {index}.mkv")
    (media / ".complete").touch()
    return media


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"n": len(ordered), "p50_ms": round(pick(0.50), 2), "p95_ms": round(pick(0.95), 2),
            "p99_ms": round(pick(0.99), 2), "max_ms": round(ordered[-1] * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def timed(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(url)
    return time.perf_counter() - started, response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "bench-web"))
    parser.add_argument("--idle-requests", type=int, default=200)
    args = parser.parse_args()

    root = Path(args.dir)
    media = build(root, args.links)
    data = Path(tempfile.mkdtemp(prefix="bench-web-data-"))
    os.environ["TOOLKIT_SYMLINK__MEDIA_PATH"] = str(media)
    os.environ["TOOLKIT_SYMLINK__MAX_WORKERS"] = str(args.workers)
    served = ServedApp(make_app(make_config(data))).start()
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            # a first scan of a small folder so that status/history have something to show
            first = client.post("/api/symlink/scan/start", json={"paths": ["Show 00/Season 00"]}).json()
            while client.get(f"/api/symlink/scan/status/{first['scan_id']}").json()["status"] == "running":
                time.sleep(0.1)
            idle = {"status": [], "history": []}
            for _ in range(args.idle_requests):
                idle["status"].append(timed(client, f"/api/symlink/scan/status/{first['scan_id']}")[0])
                idle["history"].append(timed(client, "/api/symlink/scans/history")[0])

            busy = {"status": [], "history": []}
            started = time.perf_counter()
            scan = client.post("/api/symlink/scan/start", json={"paths": [str(media)]}).json()
            status_url = f"/api/symlink/scan/status/{scan['scan_id']}"
            while True:
                elapsed, response = timed(client, status_url)
                busy["status"].append(elapsed)
                busy["history"].append(timed(client, "/api/symlink/scans/history")[0])
                if response.json()["status"] not in ("queued", "running", "cancelling"):
                    break
                time.sleep(0.01)
            scan_seconds = time.perf_counter() - started
            final = response.json()
    finally:
        served.stop()

    report = {
        "links": args.links, "workers": args.workers, "scan_seconds": round(scan_seconds, 1),
        "scan_status": final["status"], "analyzed": final["statistics"]["total_analyzed"],
        "problems": final["problems_found"],
        "idle": {name: percentiles(samples) for name, samples in idle.items()},
        "during_scan": {name: percentiles(samples) for name, samples in busy.items()},
    }
    report["p99_ratio_busy_over_idle"] = {
        name: round(report["during_scan"][name]["p99_ms"] / max(report["idle"][name]["p99_ms"], 1e-3), 1)
        for name in busy}
    report["slow_during_scan"] = {  # (request number, ms) of the requests over 50 ms
        name: [(i, round(v * 1000)) for i, v in enumerate(samples) if v > 0.05] for name, samples in busy.items()}
    report["goal_p99_under_50ms"] = all(report["during_scan"][n]["p99_ms"] < 50 for n in busy)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
