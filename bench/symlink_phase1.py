"""Phase 1 on N local links against ``find PATH -xtype l``, measured side by side.

    .venv/bin/python bench/symlink_phase1.py --links 100000 [--workers 6] [--local-processes 2] [--dir /tmp/bench-links]

Builds (once) a library of N links to sparse 2 MiB files (1 % broken, 1 % small), warms
the page cache with one ``find``, then times ``find -xtype l`` and the engine (in a child
process, so its peak RSS -- VmHWM -- is the scan's own; the worker processes' peak is
reported apart, the largest of them) and prints the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
counts = {}
def on_problem(problem):
    counts[problem.status] = counts.get(problem.status, 0) + 1
started = time.perf_counter()
options = ScanOptions(paths=[sys.argv[1]], workers=int(sys.argv[2]), local_processes=int(sys.argv[3]))
result = run_scan(options, on_problem=on_problem)
elapsed = time.perf_counter() - started
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest reaped child
print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak_kib / 1024, "worker_peak_rss_mib": worker_kib / 1024,
                  "problems": counts,
                  "analyzed": result.statistics["total_analyzed"]}))
"""


def build(root: Path, links: int) -> Path:
    library, store = root / f"library-{links}", root / f"store-{links}"
    if (library / ".complete").exists():
        return library
    store.mkdir(parents=True, exist_ok=True)
    per_folder = 100
    for index in range(links):
        folder = f"show{index // per_folder:05d}"
        (library / folder).mkdir(parents=True, exist_ok=True) if index % per_folder == 0 else None
        (store / folder).mkdir(parents=True, exist_ok=True) if index % per_folder == 0 else None
        target = store / folder / f"episode{index:07d}.mkv"
        if index % 100 == 1:
            pass  # broken: the target is never created
        elif index % 100 == 2:
            target.write_bytes(b"x" * 100)  # small
        else:
            with open(target, "wb") as handle:
                handle.truncate(2 * 1024 * 1024)  # sparse
        os.symlink(target, library / folder / f"episode{index:07d}.mkv")
    (library / ".complete").write_text("")
    return library


def time_find(library: Path) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run(["find", str(library), "-xtype", "l"], capture_output=True, check=True)
    return time.perf_counter() - started, completed.stdout.count(b"\n")


def time_engine(library: Path, workers: int, local_processes: int) -> dict:
    completed = subprocess.run([sys.executable, "-c", CHILD, str(library), str(workers), str(local_processes)],
                               capture_output=True,
                               text=True, check=True)
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--local-processes", type=int, default=2, help="0: threads only (the engine before)")
    parser.add_argument("--dir", default="/tmp/bench-links")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    library = build(Path(args.dir), args.links)
    time_find(library)  # warm the cache
    finds, engines = [], []
    for _ in range(args.rounds):  # interleaved: noise hits both alike
        finds.append(time_find(library))
        engines.append(time_engine(library, args.workers, args.local_processes))
    find_seconds = min(seconds for seconds, _ in finds)
    best = min(engines, key=lambda e: e["seconds"])
    print(json.dumps({
        "links": args.links, "workers": args.workers, "local_processes": args.local_processes,
        "find_xtype_l_seconds": round(find_seconds, 3), "find_broken": finds[0][1],
        "engine_seconds": round(best["seconds"], 3), "engine_problems": best["problems"],
        "ratio_engine_to_find": round(best["seconds"] / find_seconds, 2),
        "links_per_second": round(args.links / best["seconds"]),
        "peak_rss_mib": round(max(e["peak_rss_mib"] for e in engines), 1),
        "worker_peak_rss_mib": round(max(e["worker_peak_rss_mib"] for e in engines), 1),
        # upper bound of the sum (each process at its own peak at once; shared pages counted twice)
        "total_peak_rss_mib": round(max(e["peak_rss_mib"] + args.local_processes * e["worker_peak_rss_mib"]
                                        for e in engines), 1),
        "all_rounds": [{"find": round(f, 3), "engine": round(e["seconds"], 3)} for (f, _), e in zip(finds, engines)],
    }, indent=2))


if __name__ == "__main__":
    main()
