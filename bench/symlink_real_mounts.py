"""The symlink scan on a mount as users have it: rclone's default flags over a WebDAV
server (in its own process) where a few files answer 500/503, and the same server hung.

    .venv/bin/python bench/symlink_real_mounts.py flaky [--files 300] [--failing 6] [--latency 0.005]
    .venv/bin/python bench/symlink_real_mounts.py hung [--files 50] [--mount-timeout 5]

flaky: builds a library with a known ground truth (healthy media, ~2 % corrupted, ~1 %
small, ~1 % removed from the server, ``failing`` files answering 500 or 503), then times
(1) the original script's loop (phase 1 then ffprobe, sequential, its rules) and (2) the
whole ``redriva-toolkit symlink scan --depth full`` process (dry run), and compares both
with the ground truth.
hung: the server is stopped (SIGSTOP) after rclone listed the folder; times the whole
``symlink scan --mode real --yes`` process until it exits, and checks its exit code, its
verdicts and that nothing was deleted.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from fakes.rclone_mount import WebDAVProcess, start_rclone_mount, stop_rclone_mount  # noqa: E402
from symlink_phase2 import make_media  # noqa: E402

from toolkit.plugins.symlink.engine.probe import MEDIA_EXTENSIONS, ORIGINAL_QUERY  # noqa: E402


def build(workdir: Path, files: int, failing: int) -> tuple[dict[str, bytes], dict[str, str], list[str], list[str]]:
    """(server files, ground truth by link name, paths answering 500, paths answering 503)."""
    media = make_media(workdir)
    healthy = [media["a.mkv"], media["b.mp4"], media["c.mp3"]]
    served, truth, fail500, fail503 = {}, {}, [], []
    for index in range(files):
        if index % 50 == 7:
            name, content, status = f"corrupted{index}.mkv", media["zero.mkv" if index % 100 == 7 else "junk.mkv"], "CORRUPTED"
        elif index % 100 == 13:
            name, content, status = f"small{index}.mkv", b"\0" * 200, "SMALL_FILE"
        elif index % 100 == 29:
            name, content, status = f"gone{index}.mkv", None, "BROKEN"
        else:
            name, content, status = f"movie{index}{('.mkv', '.mp4', '.mp3')[index % 3]}", healthy[index % 3], "OK"
        if content is not None:
            served[name] = content
        truth[name] = status
    candidates = [n for n, s in truth.items() if s == "OK"]
    step = max(1, len(candidates) // max(1, failing))
    for number, name in enumerate(candidates[::step][:failing]):
        truth[name] = "IO_ERROR"
        (fail500 if number % 2 == 0 else fail503).append(f"/__all__/{name}")
    return served, truth, fail500, fail503


def original(library: Path) -> dict[str, str]:
    """The original script's rules, sequential: phase 1 on every link, then ffprobe."""
    verdicts, media = {}, []
    for entry in sorted(os.scandir(library), key=lambda e: e.name):
        path = entry.path
        if not os.path.exists(path):
            verdicts[entry.name] = "BROKEN"
        elif not os.access(path, os.R_OK):
            verdicts[entry.name] = "INACCESSIBLE"
        elif os.path.getsize(path) < 1024:
            verdicts[entry.name] = "SMALL_FILE"
        else:
            try:
                with open(path, "rb") as handle:
                    handle.read(1024)
            except OSError:
                verdicts[entry.name] = "IO_ERROR"
                continue
            verdicts[entry.name] = "OK"
            if os.path.splitext(path)[1].lower() in MEDIA_EXTENSIONS:
                media.append(entry)
    for entry in media:
        try:
            output = subprocess.run(["ffprobe", *ORIGINAL_QUERY, entry.path], capture_output=True, text=True,
                                    timeout=15).stdout
        except subprocess.TimeoutExpired:
            output = ""
        if "video" not in output and "audio" not in output:
            verdicts[entry.name] = "CORRUPTED"
    return verdicts


def cli(library: Path, data: Path, *arguments: str) -> tuple[float, int, dict]:
    report = data / "report.json"
    environment = {**os.environ, "TOOLKIT_DATA_DIR": str(data)}
    environment.pop("TOOLKIT_DATABASE_URL", None)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "toolkit.cli", "symlink", "scan", str(library), "--json", str(report),
                          *arguments], capture_output=True, text=True, env=environment)
    elapsed = time.monotonic() - started
    if not report.exists():
        raise RuntimeError(run.stdout + run.stderr)
    return elapsed, run.returncode, json.loads(report.read_text())


def verdicts_of(document: dict, truth: dict[str, str]) -> dict[str, str]:
    found = {Path(p["path"]).name: p["status"] for p in document["problems_found"]}
    return {name: found.get(name, "OK") for name in truth}


def differences(found: dict[str, str], truth: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {name: (truth[name], found.get(name)) for name in truth if found.get(name) != truth[name]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["flaky", "hung"])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--failing", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.005)
    parser.add_argument("--mount-timeout", type=float, default=5.0)
    parser.add_argument("--skip-original", action="store_true")
    arguments = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="symlink-real-mounts-") as temporary:
        workdir = Path(temporary)
        (workdir / "media").mkdir()
        served, truth, fail500, fail503 = build(workdir / "media", arguments.files,
                                                arguments.failing if arguments.scenario == "flaky" else 0)
        remote, library, mount_point = workdir / "remote", workdir / "library", workdir / "mnt"
        (remote / "__all__").mkdir(parents=True)
        library.mkdir()
        for name, content in served.items():
            (remote / "__all__" / name).write_bytes(content)
        server = WebDAVProcess(remote, latency=arguments.latency, fail500=tuple(fail500), fail503=tuple(fail503))
        rclone = start_rclone_mount(server, mount_point, flags=())  # rclone's defaults, as users have them
        try:
            for name in truth:
                os.symlink(mount_point / "__all__" / name, library / name)
            os.listdir(mount_point / "__all__")
            if arguments.scenario == "flaky":
                print(f"{len(truth)} links: " + ", ".join(f"{s} {list(truth.values()).count(s)}" for s in sorted(set(truth.values()))))
                elapsed, code, document = cli(library, workdir / "data", "--depth", "full")
                found = verdicts_of(document, truth)
                mount = next(m for m in document["mounts"] if m["fstype"].startswith("fuse"))
                print(f"engine: {elapsed:.1f} s, exit {code}, differences from the truth: {differences(found, truth)}")
                print(f"  mount: {json.dumps(mount)}")
                if not arguments.skip_original:
                    started = time.monotonic()
                    found = original(library)
                    print(f"original loop: {time.monotonic() - started:.1f} s, "
                          f"differences from the truth: {differences(found, truth)}")
            else:
                server.pause()
                try:
                    elapsed, code, document = cli(library, workdir / "data", "--mode", "real", "--yes", "--force",
                                                  "--mount-timeout", str(arguments.mount_timeout))
                finally:
                    server.resume()
                statuses = {p["status"] for p in document["problems_found"]}
                # a verdict given on a hung mount (from rclone's caches) must still be right
                given = {name: status for name, status in verdicts_of(document, truth).items() if status != "UNKNOWN"}
                wrong = {name: (truth[name], status) for name, status in given.items() if status != truth[name]}
                print(f"hung: exit {code} after {elapsed:.1f} s (mount_timeout {arguments.mount_timeout:g} s), "
                      f"{len(document['problems_found'])} problems {statuses}, {len(document['deleted_files'])} deleted, "
                      f"{len(os.listdir(library))} links left; stopped by: {document['stopped_by']}; verdicts other "
                      f"than UNKNOWN: {len(given)}, differences from the truth: {wrong}")
        finally:
            server.resume()
            stop_rclone_mount(rclone, mount_point)
            server.stop()


if __name__ == "__main__":
    main()
