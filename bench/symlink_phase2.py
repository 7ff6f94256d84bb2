"""Phase 2 through a real rclone mount with per-request latency, and the re-scan.

    .venv/bin/python bench/symlink_phase2.py [--files 200] [--latency 0.02] [--probe-workers 12] [--damaged-every 20]

Serves generated media (healthy and damaged copies) from a local WebDAV server with
``latency`` seconds added to every request, mounts it with rclone, links a library into
the mount, then measures side by side:
1. the original's sequential loop (``subprocess.run(ffprobe ..., timeout=15)`` per OK
   media link, the original's query and verdict rule);
2. the engine, ``depth="full"`` (phase 1 + phase 2, bounded concurrency, verdict cache);
3. the same engine scan again on the unchanged library (verdicts from the cache).
It checks that 1 and 2 give the same verdicts and prints the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.rclone_mount import start_rclone_mount  # noqa: E402

from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan  # noqa: E402
from toolkit.plugins.symlink.engine.probe import MEDIA_EXTENSIONS, ORIGINAL_QUERY  # noqa: E402
from toolkit.plugins.symlink.store import SqlVerdictStore, open_database  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def wait_for_port(port: int) -> None:
    import socket

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class RemoteServer:
    def __init__(self, url: str) -> None:
        self.url = url


def make_media(folder: Path) -> dict[str, bytes]:
    def ffmpeg(*arguments: str) -> None:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)

    video = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine", "-t", "3"]
    ffmpeg(*video, "-c:v", "mpeg4", "-c:a", "mp2", str(folder / "a.mkv"))
    ffmpeg(*video, "-c:v", "mpeg4", "-c:a", "aac", "-movflags", "+faststart", str(folder / "b.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "libmp3lame", str(folder / "c.mp3"))
    healthy = {p.name: p.read_bytes() for p in folder.iterdir()}
    damaged = {"zero.mkv": b"\0" * 4096 + healthy["a.mkv"][4096:], "junk.mkv": os.urandom(60_000)}
    return {**healthy, **damaged}


def original_loop(library: Path) -> dict[str, str]:
    """The original script's phase 2, sequential (its phase 1 is not timed here)."""
    verdicts = {}
    for entry in sorted(os.scandir(library), key=lambda e: e.name):
        if os.path.splitext(entry.name)[1].lower() not in MEDIA_EXTENSIONS:
            continue
        try:
            completed = subprocess.run(["ffprobe", *ORIGINAL_QUERY, entry.path], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True, timeout=15)
            output = completed.stdout.strip()
            ok = bool(output) and ("video" in output or "audio" in output)
        except Exception:
            ok = False
        verdicts[entry.name] = "OK" if ok else "CORRUPTED"
    return verdicts


def engine_scan(library: Path, store: SqlVerdictStore, workers: int, probe_workers: int) -> tuple[float, dict, dict]:
    problems = {}
    phase_started: dict[str, float] = {}

    def on_progress(progress) -> None:
        phase_started.setdefault(progress.phase, time.perf_counter())

    started = time.perf_counter()
    result = run_scan(ScanOptions(paths=[str(library)], depth="full", workers=workers, probe_workers=probe_workers),
                      verdict_store=store, on_problem=lambda p: problems.__setitem__(Path(p.path).name, p.status),
                      on_progress=on_progress)
    elapsed = time.perf_counter() - started
    marks = sorted(phase_started.items(), key=lambda item: item[1]) + [("end", started + elapsed)]
    result.statistics["phase_seconds"] = {name: round(marks[i + 1][1] - at, 3) for i, (name, at) in
                                          enumerate(marks[:-1]) if name != "done"}
    return elapsed, problems, result.statistics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--probe-workers", type=int, default=12)
    parser.add_argument("--damaged-every", type=int, default=20, help="one damaged file in N")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-phase2-"))
    remote, mount_point, library = work / "remote", work / "mnt", work / "library"
    for folder in (remote, library, work / "media"):
        folder.mkdir()
    contents = make_media(work / "media")
    healthy_names = ["a.mkv", "b.mp4", "c.mp3"]
    damaged_names = ["zero.mkv", "junk.mkv"]
    for index in range(args.files):
        if index % args.damaged_every == 0:
            name = damaged_names[(index // args.damaged_every) % len(damaged_names)]
        else:
            name = healthy_names[index % len(healthy_names)]
        stem, ext = os.path.splitext(name)
        remote_name = f"{stem}-{index:04d}{ext}"
        (remote / remote_name).write_bytes(contents[name])
        os.symlink(mount_point / remote_name, library / remote_name)
    # A fast WebDAV server (rclone's, in Go) behind a latency proxy, both in their own
    # processes: the Python test server costs ~10 ms of CPU per request and would be the
    # bottleneck, and in our process it would compete with the engine for the GIL.
    server_port, proxy_port = free_port(), free_port()
    server_process = subprocess.Popen(["rclone", "serve", "webdav", str(remote), "--addr", f"127.0.0.1:{server_port}",
                                       "--read-only"], stderr=subprocess.DEVNULL)
    proxy_process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "latency_proxy.py"), str(proxy_port),
                                      str(server_port), str(args.latency)], stdout=subprocess.PIPE, text=True)
    proxy_process.stdout.readline()
    wait_for_port(server_port)
    server = RemoteServer(f"http://127.0.0.1:{proxy_port}/")
    os.environ["TOOLKIT_DATA_DIR"] = str(work / "data")
    engine = open_database()
    # rclone's defaults for caches and retries, as users run it
    rclone = start_rclone_mount(server, mount_point, "--dir-cache-time", "5m", "--attr-timeout", "1s",
                                "--low-level-retries", "10")
    try:
        os.listdir(mount_point)
        started = time.perf_counter()
        original = original_loop(library)
        original_seconds = time.perf_counter() - started
        first_seconds, first_problems, first_stats = engine_scan(library, SqlVerdictStore(engine), args.workers,
                                                                 args.probe_workers)
        second_seconds, second_problems, second_stats = engine_scan(library, SqlVerdictStore(engine), args.workers,
                                                                    args.probe_workers)
    finally:
        rclone.terminate()
        rclone.wait(10)
        subprocess.run(["fusermount3", "-uz", str(mount_point)], capture_output=True)
        for process in (proxy_process, server_process):
            process.terminate()
            process.wait(10)
        engine.dispose()
    engine_verdicts = {name: first_problems.get(name, "OK") for name in original}
    print(json.dumps({
        "files": args.files, "latency_seconds": args.latency, "probe_workers": args.probe_workers,
        "original_sequential_seconds": round(original_seconds, 2),
        "engine_first_scan_seconds": round(first_seconds, 2),
        "engine_rescan_seconds": round(second_seconds, 3),
        "ratio_original_to_engine": round(original_seconds / first_seconds, 1),
        "ratio_first_to_rescan": round(first_seconds / second_seconds, 1),
        "same_verdicts": engine_verdicts == original,
        "corrupted": sorted(n for n, v in original.items() if v == "CORRUPTED").__len__(),
        "rescan_probed": second_stats["phase2_probed"], "rescan_cached": second_stats["skipped_cached"],
        "first_scan_phase_seconds": first_stats["phase_seconds"],
        "rescan_phase_seconds": second_stats["phase_seconds"],
    }, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
