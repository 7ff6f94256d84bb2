"""Phase 2: ffprobe / ffmpeg tiers, run so that a timed-out probe is killed for sure.

Tiers (measured on damaged files, see docs/symlink-engine.md):
- ``full``: the original script's header query
  ``ffprobe -v error -show_entries stream=codec_type -of csv=p=0 PATH``: CORRUPTED when
  the output names neither ``video`` nor ``audio``. Exit code ignored, as in the original.
- ``deep``: the same query plus the container's duration, then short decodes at samples
  spread over the file (``ffmpeg -ss T -i PATH -t S -f framecrc -``). CORRUPTED when a
  sample decodes no frame, or ffmpeg reports truncation/decoding errors. This catches
  files cut short and damaged in the middle that the header query passes.

Each process runs in its own session; on timeout the whole process group gets SIGKILL
(``subprocess.run(timeout=)`` only kills the child and then waits for pipes that a
grandchild may hold open).
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

ORIGINAL_QUERY = ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0"]
MEDIA_EXTENSIONS = frozenset(
    {".mp4", ".mkv", ".avi", ".mov", ".wmv", ".flv", ".m4v", ".webm", ".mp3", ".flac", ".wav", ".aac"}
)
PROBE_TIMEOUT_SECONDS = 15.0
FILES_PER_MINUTE_ESTIMATE = 30  # the original's planning figure for phase 2
_STDERR_LIMIT = 64 * 1024
# ffmpeg messages that mean the data is damaged, not that the decoder is picky.
_DAMAGE_MARKERS = (
    "partial file",
    "file ended prematurely",
    "truncat",
    "invalid data found",
    "error while decoding",
    "decode_frame()",
    "invalid residual",
    "exceeds containing master element",
    "moov atom not found",
)
# the file system, not the file: never call these corrupted
_UNREACHABLE_MARKERS = ("transport endpoint is not connected", "stale file handle", "host is down")

# phase 2's ways to run the header query (ScanOptions.prober): PyAV in long-lived
# processes (avprobe.py), or ffprobe per file (the parity mode)
PROBERS = ("av", "ffprobe")

OK = "OK"
CORRUPTED = "CORRUPTED"
UNKNOWN = "UNKNOWN"


def av_location() -> str | None:
    """The folder holding the ``av`` package (handed to the workers, which run without
    site), or None when PyAV is not installed. Does not import it."""
    import importlib.util

    spec = importlib.util.find_spec("av")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.dirname(next(iter(spec.submodule_search_locations)))


def av_available() -> bool:
    return av_location() is not None


def default_prober() -> str:
    """``av`` when PyAV is installed (a dependency of the toolkit), else ``ffprobe``."""
    return "av" if av_available() else "ffprobe"


class ProbeTimeout(TimeoutError):
    pass


class ToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class ProbeVerdict:
    verdict: str  # OK, CORRUPTED or UNKNOWN
    reason: str | None = None
    late: bool = False  # UNKNOWN because the probe passed its timeout (retried once by the scan)
    # of the probe's time, what this machine spent, not the mount: starting the process and
    # waiting for a CPU (see run_timed); the mount's back-pressure leaves it out
    local_seconds: float = field(default=0.0, compare=False)


def tool_path(name: str) -> str:
    import shutil  # depth full/deep only: shutil loads zlib, bz2, lzma (see scratch.py)

    found = shutil.which(name)
    if not found:
        raise ToolMissing(f"{name} not found: depth 'full' and 'deep' need ffmpeg (apt-get install ffmpeg)")
    return found


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    # the process's local cost: starting it (Popen) + its CPU time + its time waiting for a
    # CPU (the kernel's run delay); the rest of its wall time it was blocked, on the file's
    # reads (the mount) for a prober
    local_seconds: float


def _schedstat(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, seconds waiting on a run queue) of a child not reaped yet, or None."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as handle:
            cpu, waited = handle.read().split()[:2]
        return int(cpu) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return None


def _read_pipes(process: subprocess.Popen, ends: float) -> tuple[bytes, bytes]:
    """stdout and stderr (the first _STDERR_LIMIT bytes) until both close, without reaping
    the process (its /proc counters are read after); TimeoutExpired past ``ends``."""
    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}  # type: ignore[union-attr]
    kept = {fd: 0 for fd in chunks}
    limits = {process.stdout.fileno(): None, process.stderr.fileno(): _STDERR_LIMIT}  # type: ignore[union-attr]
    with selectors.DefaultSelector() as selector:
        for pipe in (process.stdout, process.stderr):
            selector.register(pipe, selectors.EVENT_READ)  # type: ignore[arg-type]
        while selector.get_map():
            remaining = ends - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(process.args, 0)
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                limit = limits[key.fd]
                if limit is None or kept[key.fd] < limit:  # past the limit, read and drop
                    chunks[key.fd].append(data)
                    kept[key.fd] += len(data)
    stdout, stderr = (b"".join(chunks[pipe.fileno()]) for pipe in (process.stdout, process.stderr))  # type: ignore[union-attr]
    return stdout, stderr[:_STDERR_LIMIT]


def run_timed(command: list[str], *, timeout: float) -> Finished:
    """Run ``command``; on timeout SIGKILL its process group and raise :class:`ProbeTimeout`.

    Measures the process's local cost (:class:`Finished`): on a busy machine a process
    start is slow, and the per-mount back-pressure must not take that for the mount's
    latency. Linux's per-task schedstat gives the CPU time and the run-queue wait of the
    child exactly, whatever the load; what remains of its wall time it spent blocked (on
    the mount for a prober). Without /proc the local cost is the start-up alone."""
    before = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    spawned = time.monotonic()
    start = _schedstat(process.pid)
    try:
        try:
            stdout, stderr = _read_pipes(process, spawned + timeout)
            # both pipes closed: the process is exiting; its counters are (about) final
            end = _schedstat(process.pid)
            returncode = process.wait(timeout=max(0.0, spawned + timeout - time.monotonic()))
        finally:
            process.stdout.close()  # type: ignore[union-attr]
            process.stderr.close()  # type: ignore[union-attr]
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            # a process stuck in an uninterruptible read dies when the read returns;
            # do not wait for it forever
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        raise ProbeTimeout(f"{os.path.basename(command[0])} timed out after {timeout:g}s and was killed") from None
    local = spawned - before
    if start is not None and end is not None:
        local += (end[0] - start[0]) + (end[1] - start[1])
    return Finished(returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), local)


def _unreachable(stderr: str) -> str | None:
    lowered = stderr.lower()
    for marker in _UNREACHABLE_MARKERS:
        if marker in lowered:
            return marker
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def probe_full(path: str, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> ProbeVerdict:
    """The original's verdict, except a timeout or an unreachable mount is UNKNOWN."""
    try:
        finished = run_timed([tool_path("ffprobe"), *ORIGINAL_QUERY, path], timeout=timeout)
    except ProbeTimeout as exc:
        return ProbeVerdict(UNKNOWN, str(exc), late=True)
    return replace(_header_verdict(finished.stdout, finished.stderr), local_seconds=finished.local_seconds)


def _header_verdict(codec_types: str, stderr: str) -> ProbeVerdict:
    if (marker := _unreachable(stderr)) is not None:
        return ProbeVerdict(UNKNOWN, f"ffprobe could not read the file: {marker}")
    if "video" in codec_types or "audio" in codec_types:
        return ProbeVerdict(OK)
    detail = _first_line(stderr) or "no video or audio stream"
    return ProbeVerdict(CORRUPTED, f"ffprobe: {detail}")


def sample_positions(duration: float, samples: int, sample_seconds: float) -> list[float]:
    """Start times spread from 2 % of the file to just before its stated end (where cuts show)."""
    last = max(0.0, duration - sample_seconds - 0.25)
    if samples <= 1:
        return [round(last, 3)]
    first = min(last, duration * 0.02)
    step = (last - first) / (samples - 1)
    return [round(first + step * index, 3) for index in range(samples)]


def probe_deep(
    path: str,
    *,
    timeout: float = PROBE_TIMEOUT_SECONDS,
    samples: int = 4,
    sample_seconds: float = 0.5,
) -> ProbeVerdict:
    """Header query + container duration, then decode ``samples`` short windows."""
    costs: list[float] = []  # each process's local cost (Finished.local_seconds)

    def run(command: list[str], *, timeout: float) -> tuple[int, str, str]:
        finished = run_timed(command, timeout=timeout)
        costs.append(finished.local_seconds)
        return finished.returncode, finished.stdout, finished.stderr

    verdict = _probe_deep(path, run, timeout=timeout, samples=samples, sample_seconds=sample_seconds)
    return replace(verdict, local_seconds=sum(costs))


def _probe_deep(path: str, run: Callable[..., tuple[int, str, str]], *, timeout: float, samples: int,
                sample_seconds: float) -> ProbeVerdict:
    ffprobe, ffmpeg = tool_path("ffprobe"), tool_path("ffmpeg")
    try:
        _, stdout, stderr = run(
            [ffprobe, "-v", "error", "-show_entries", "stream=codec_type:format=duration", "-of", "json", path],
            timeout=timeout,
        )
    except ProbeTimeout as exc:
        return ProbeVerdict(UNKNOWN, str(exc), late=True)
    try:
        document = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        document = {}
    codec_types = " ".join(str(s.get("codec_type", "")) for s in document.get("streams", []))
    header = _header_verdict(codec_types, stderr)
    if header.verdict != OK:
        return header
    try:
        duration = float(document.get("format", {}).get("duration", "nan"))
    except (TypeError, ValueError):
        duration = float("nan")
    if not duration > 0:
        return ProbeVerdict(CORRUPTED, "ffprobe: the container states no duration")
    for start in sample_positions(duration, samples, sample_seconds):
        try:
            returncode, frames, errors = run(
                [ffmpeg, "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-i", path,
                 "-t", f"{sample_seconds:g}", "-f", "framecrc", "-"],
                timeout=timeout,
            )
        except ProbeTimeout as exc:
            return ProbeVerdict(UNKNOWN, f"decoding at {start:.1f}s: {exc}", late=True)
        if (marker := _unreachable(errors)) is not None:
            return ProbeVerdict(UNKNOWN, f"ffmpeg could not read the file: {marker}")
        decoded = sum(1 for line in frames.splitlines() if line and not line.startswith("#"))
        lowered = errors.lower()
        if decoded == 0:
            detail = _first_line(errors) or "no frame"
            return ProbeVerdict(CORRUPTED, f"nothing decodes at {start:.1f}s of {duration:.1f}s: {detail}")
        if returncode != 0 or any(marker in lowered for marker in _DAMAGE_MARKERS):
            return ProbeVerdict(CORRUPTED, f"damaged data at {start:.1f}s: {_first_line(errors) or f'exit {returncode}'}")
    return ProbeVerdict(OK)


def probe(path: str, depth: str, *, timeout: float = PROBE_TIMEOUT_SECONDS, samples: int = 4) -> ProbeVerdict:
    if depth == "deep":
        return probe_deep(path, timeout=timeout, samples=samples)
    return probe_full(path, timeout=timeout)


def original_estimate(media_count: int) -> str:
    """The original's pre-phase-2 estimate: 30 files a minute, at least one minute."""
    minutes = max(1, media_count // FILES_PER_MINUTE_ESTIMATE)
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60}h{minutes % 60}m"
