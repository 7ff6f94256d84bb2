"""The whole ``redriva-toolkit symlink scan`` process: start-up and 100k local links.

    .venv/bin/python bench/symlink_cli.py [--links 100000] [--rounds 5] [--dir /tmp/bench-links]

1. An empty folder, ``rounds`` times (after one run that creates and migrates the
   database, as a user's second run finds it): wall time of the command until it exits.
2. The library of ``bench/symlink_phase1.py`` (N links, 1 % broken, 1 % small), the whole
   command against ``find PATH -xtype l``, interleaved, ``rounds`` times; the wall time is
   taken from runs nobody watches, the memory from a second run each round: the RSS of
   every process of the scan (the command, its scan child, the worker processes) is
   sampled every 20 ms from /proc and summed: the peak of the sum is reported, with how
   many processes it summed.
3. What the command imports: whether quart, alembic or apprise were loaded (``-X importtime``).
Prints the machine's load average: figures on a busy machine are labelled as such.

CPU time too, summed over every process of the command (this script is their child
subreaper: the scan process, orphaned when the command exits, is reaped here, so
``RUSAGE_CHILDREN`` holds them all). On a machine shared with other work the wall time
mostly measures the wait for a core; the processes run one after the other at start-up,
so the CPU time of an empty-folder run is close to its wall time on an idle machine.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from symlink_phase1 import build, time_find  # noqa: E402

COMMAND = [sys.executable, "-m", "toolkit.cli", "symlink", "scan"]


def descendants(pid: int) -> set[int]:
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        # every thread's children: the quick worker processes are started by a thread
        # of the scan process, and /proc/PID/task/PID/children lists the main thread's only
        children: list[str] = []
        try:
            for thread in os.listdir(f"/proc/{parent}/task"):
                children += Path(f"/proc/{parent}/task/{thread}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def become_subreaper() -> None:
    """Orphaned descendants (the scan process outlives the command by a moment) are
    re-parented to this process, which reaps them: their CPU time is counted."""
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def cpu_of_find(library: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``find PATH -xtype l``."""
    cpu = children_cpu()
    seconds, _ = time_find(library)
    return seconds, children_cpu() - cpu


def run_command(arguments: list[str], environment: dict[str, str], *, sample_memory: bool = False,
                ) -> tuple[float, int, float, float, int]:
    """(seconds until the command exits, exit code, peak of the summed RSS in MiB, CPU
    seconds of all its processes, how many processes that peak summed). The scan child is
    re-parented when the command exits: it is sampled while the command runs. The memory
    is sampled only when asked: reading /proc for every thread each 20 ms takes CPU from a
    command that keeps both cores busy (~3-5 % of its wall time), so the timed runs go
    without it."""
    cpu = children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen([*COMMAND, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=environment)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            sizes = [rss_kib(pid) for pid in descendants(process.pid)]
            if sum(sizes) > peak[0]:
                peak[:] = [sum(sizes), sum(1 for size in sizes if size)]
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_memory:
        sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    if sample_memory:
        sampler.join()
    reap_all()
    return seconds, code, peak[0] / 1024, children_cpu() - cpu, peak[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default="/tmp/bench-links")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="symlink-cli-") as temporary:
        environment = {**os.environ, "TOOLKIT_DATA_DIR": str(Path(temporary) / "data")}
        environment.pop("TOOLKIT_DATABASE_URL", None)
        # as installed (pip compiles the bytecode): the first run below writes what a
        # PYTHONDONTWRITEBYTECODE=1 shell would otherwise have every run compile again
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        empty = Path(temporary) / "empty"
        empty.mkdir()
        print(f"load average before: {os.getloadavg()}")
        become_subreaper()
        run_command([str(empty)], environment)  # creates and migrates the database
        empties = [run_command([str(empty)], environment) for _ in range(arguments.rounds)]
        walls, cpus = sorted(r[0] for r in empties), sorted(r[3] for r in empties)
        print(f"empty folder: wall median {walls[len(walls) // 2]:.3f} s, best {walls[0]:.3f} s; CPU (all its "
              f"processes) median {cpus[len(cpus) // 2]:.3f} s, best {cpus[0]:.3f} s; "
              f"all {[(round(r[0], 3), round(r[3], 3)) for r in empties]}")
        imports = subprocess.run([sys.executable, "-X", "importtime", *COMMAND[1:], str(empty)], env=environment,
                                 capture_output=True, text=True).stderr
        loaded = sorted({name for name in ("quart", "alembic", "apprise", "hypercorn", "sqlalchemy", "httpx")
                         if f"| {name}\n" in imports + "\n" or f"| {name}" in imports})
        print(f"the command imports (heavy packages): {loaded}")

        if arguments.links:
            library = build(Path(arguments.dir), arguments.links)
            time_find(library)  # warm the cache
            run_command([str(library)], environment)  # warm the command's caches too
            rounds = []
            for _ in range(arguments.rounds):
                find_seconds, find_cpu = cpu_of_find(library)
                seconds, code, _, cpu, _ = run_command([str(library)], environment)
                _, _, peak, _, processes = run_command([str(library)], environment, sample_memory=True)
                rounds.append((find_seconds, seconds, code, peak, find_cpu, cpu, processes))
            best_find = min(r[0] for r in rounds)
            best = min(rounds, key=lambda r: r[1])
            best_find_cpu, best_cpu = min(r[4] for r in rounds), min(r[5] for r in rounds)
            print(json.dumps({
                "links": arguments.links, "find_xtype_l_seconds": round(best_find, 3),
                "command_seconds": round(best[1], 3), "ratio": round(best[1] / best_find, 2), "exit_code": best[2],
                "median_ratio": round(sorted(r[1] for r in rounds)[len(rounds) // 2]
                                      / sorted(r[0] for r in rounds)[len(rounds) // 2], 2),
                "find_cpu_seconds": round(best_find_cpu, 3), "command_cpu_seconds": round(best_cpu, 3),
                "cpu_ratio": round(best_cpu / best_find_cpu, 2),
                "peak_rss_sum_mib": round(max(r[3] for r in rounds), 1),
                "processes_in_peak": max(rounds, key=lambda r: r[3])[6],
                "rounds": [{"find": round(f, 3), "command": round(s, 3), "peak_mib": round(p, 1),
                            "find_cpu": round(fc, 3), "command_cpu": round(c, 3)}
                           for f, s, _, p, fc, c, _ in rounds],
            }, indent=2))
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
