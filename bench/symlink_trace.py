"""A timeline of one first ``full`` scan through the phase-2 bench's rig: where the time
outside the paced requests goes.

    .venv/bin/python bench/symlink_trace.py [--files 300] [--latency 0.02] [--mode engine|cli]

Builds ``bench/symlink_phase2.py``'s library and rig (rclone's default flags, the latency
proxy logging every request), reads the mount's listing once (the bench's raw measures
and the original's loop do before its engine scan: rclone's directory cache is warm;
``--cold`` skips it), then traces one first scan (empty verdict cache):
- ``engine``: :func:`run_scan` in this process, as ``symlink_phase2.py`` measures it: its
  phases (progress events), the PyAV workers' start, every probe (start, end);
- ``cli``: the whole ``redriva-toolkit symlink scan LIB --depth full`` command under
  ``strace -f`` (process starts and exits; the scan process's progress lines);
and prints the timeline (seconds from the start) with the requests the proxy saw, by
kind, and the ones beyond one GET per media link.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from fakes.rclone_mount import start_rclone_mount, stop_rclone_mount  # noqa: E402
from rig import SlowRemote  # noqa: E402
from symlink_phase2 import build_library  # noqa: E402


def trace_engine(library: Path, workers: int) -> list[tuple[float, str]]:
    from toolkit.plugins.symlink.engine import avprobe
    from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
    from toolkit.plugins.symlink.store import open_database
    from toolkit.plugins.symlink.verdicts import SqlVerdictStore

    marks: list[tuple[float, str]] = []
    probes: list[tuple[float, float]] = []
    ready = avprobe._Worker.ready
    probe = avprobe.AvProber.probe
    start = avprobe.AvProber.start

    def traced_ready(self):
        worker = ready(self)
        marks.append((time.time(), "PyAV worker ready"))
        return worker

    def traced_probe(self, path, **kwargs):
        began = time.time()
        try:
            return probe(self, path, **kwargs)
        finally:
            probes.append((began, time.time()))

    def traced_start(self, count):
        marks.append((time.time(), f"PyAV workers: start of {count}"))
        return start(self, count)

    avprobe._Worker.ready, avprobe.AvProber.probe, avprobe.AvProber.start = traced_ready, traced_probe, traced_start

    def timed(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def traced(self, *args, **kwargs):
            marks.append((time.time(), f"{label} starts"))
            try:
                return original(self, *args, **kwargs)
            finally:
                marks.append((time.time(), f"{label} ends"))
        setattr(owner, name, traced)

    timed(avprobe.AvProber, "close", "PyAV workers' close")
    timed(SqlVerdictStore, "flush", "verdict store flush")
    engine = open_database()
    options = ScanOptions(paths=[str(library)], depth="full", workers=workers)
    seen: set[str] = set()

    def on_progress(progress) -> None:
        if progress.phase not in seen:
            seen.add(progress.phase)
            marks.append((time.time(), f"phase {progress.phase} starts"))

    marks.append((time.time(), "run_scan called"))
    result = run_scan(options, verdict_store=SqlVerdictStore(engine), on_progress=on_progress)
    marks.append((time.time(), "run_scan returned"))
    engine.dispose()
    if probes:
        marks += [(min(b for b, _ in probes), "first probe starts"), (max(b for b, _ in probes), "last probe starts"),
                  (min(e for _, e in probes), "first probe ends"), (max(e for _, e in probes), "last probe ends")]
        durations = sorted(e - b for b, e in probes)
        marks.append((marks[-1][0], f"({len(probes)} probes, median {durations[len(durations) // 2] * 1000:.0f} ms,"
                                    f" p95 {durations[int(len(durations) * 0.95)] * 1000:.0f} ms)"))
    marks.append((marks[-1][0], f"(statistics: media {result.statistics['media_links']}, corrupted "
                                f"{result.statistics['phase2_corrupted']}, probed {result.statistics['phase2_probed']})"))
    return marks


def trace_cli(library: Path, workers: int, work: Path, strace: bool) -> list[tuple[float, str]]:
    out = work / "strace.txt"
    command = [str(ROOT / ".venv/bin/redriva-toolkit"), "symlink", "scan", str(library), "--depth", "full",
               "--workers", str(workers), "--json", str(work / "report.json")]
    tracer = ["strace", "-f", "-ttt", "-qq", "--seccomp-bpf", "-s", "120", "-o", str(out),
              "-e", "trace=execve,exit_group,write"] if strace else []
    marks = [(time.time(), "command start" + (" (strace's fork)" if strace else ""))]
    completed = subprocess.run([*tracer, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks.append((time.time(), f"command exit seen by the caller (code {completed.returncode})"))
    if not strace:
        out.write_text("")
    names: dict[str, str] = {}
    phases: set[str] = set()
    scanners: set[str] = set()  # the scan process: the one writing progress lines on its stdout
    for line in out.read_text(errors="replace").splitlines():
        match = re.match(r"(\d+) +(\d+\.\d+) (.*)", line)
        if not match:
            continue
        pid, at, call = match.group(1), float(match.group(2)), match.group(3)
        if call.startswith("execve(") and "= 0" in call:
            program = " ".join(re.findall(r'"([^"]*)"', call)[1:4])
            names[pid] = program
            marks.append((at, f"exec {pid}: {program}"))
        elif call.startswith("exit_group("):
            if pid in scanners or pid not in names or "redriva-toolkit" in names.get(pid, ""):
                marks.append((at, f"exit {pid} ({'scan process' if pid in scanners else names.get(pid, 'forked')})"))
        elif call.startswith("write(1,"):
            for kind in ("progress", "result"):
                if f'[\\"{kind}\\"' in call:
                    scanners.add(pid)
                    phase = re.search(r'\\"phase\\": \\"(\w+)\\"', call)
                    label = f"scan process: {kind}" + (f" {phase.group(1)}" if phase else "")
                    if label not in phases:
                        phases.add(label)
                        marks.append((at, label + " (first)"))
    marks.append((0, f"(report: {json.loads((work / 'report.json').read_text()).get('duration_seconds')} s of scan)"))
    return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--damaged-every", type=int, default=20)
    parser.add_argument("--mode", choices=("engine", "cli"), default="engine")
    parser.add_argument("--cold", action="store_true", help="no listing before the scan (rclone's caches empty)")
    parser.add_argument("--no-strace", action="store_true", help="cli: the command alone (its start and exit)")
    parser.add_argument("--database", action="store_true",
                        help="cli: the toolkit's database made first (a scan of an empty folder), as after a first use")
    args = parser.parse_args()
    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-trace-"))
    remote, mount_point, library = build_library(work, args.files, args.damaged_every)
    requests_log = work / "requests.log"
    server = SlowRemote(remote, args.latency, requests_log)
    os.environ["TOOLKIT_DATA_DIR"] = str(work / "data")
    rclone = start_rclone_mount(server, mount_point, flags=())
    if args.database:
        (work / "empty").mkdir()
        subprocess.run([str(ROOT / ".venv/bin/redriva-toolkit"), "symlink", "scan", str(work / "empty")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    try:
        if not args.cold:
            os.listdir(mount_point)
        time.sleep(0.5)
        began = time.time()
        marks = trace_engine(library, args.workers) if args.mode == "engine" else trace_cli(library, args.workers, work, not args.no_strace)
    finally:
        stop_rclone_mount(rclone, mount_point)
        server.stop()
    requests = []
    for line in requests_log.read_text().splitlines():
        at, method, path, ranges = line.split(" ", 3)
        if float(at) >= began:
            requests.append((float(at), method, path, ranges))
    if requests:
        marks += [(requests[0][0], f"first request: {' '.join(requests[0][1:])}"),
                  (requests[-1][0], f"last request: {' '.join(requests[-1][1:])}")]
    gets = [r for r in requests if r[1] == "GET"]
    if gets:
        marks += [(gets[0][0], "first GET"), (gets[-1][0], "last GET")]
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(began))} UTC, load average before {load}, "
          f"{args.files} files, {args.latency * 1000:g} ms, mode {args.mode}{', cold' if args.cold else ''}")
    for at, what in sorted(marks, key=lambda mark: mark[0] or began):
        print(f"{(at - began) if at else 0:8.3f}  {what}")
    kinds = collections.Counter(method for _, method, _, _ in requests)
    per_path = collections.Counter((method, path) for _, method, path, _ in requests)
    print("requests by kind:", dict(kinds))
    extra = {f"{method} {path}": n for (method, path), n in per_path.items() if method != "GET" or n > 1}
    print("beyond one GET per file:", json.dumps(extra, indent=1) if extra else "none")
    if len(gets) > 1:
        gaps = sorted(b[0] - a[0] for a, b in zip(gets, gets[1:]))
        print(f"GET spacing: median {gaps[len(gaps) // 2] * 1000:.1f} ms, mean {(gets[-1][0] - gets[0][0]) / (len(gets) - 1) * 1000:.1f} ms,"
              f" max {gaps[-1] * 1000:.1f} ms; {len(gets) / (gets[-1][0] - gets[0][0]):.1f} GET/s between first and last")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
