"""Phase 2's PyAV prober against the real ffprobe (the parity mode) on damaged media."""
from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from toolkit.plugins.symlink.engine.avprobe import AvProber
from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.engine.probe import av_available, probe_full

pytestmark = pytest.mark.skipif(not av_available(), reason="PyAV not installed (pip install av)")


def _ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True, timeout=60)


@pytest.fixture(scope="module")
def more_media(media, tmp_path_factory) -> dict[str, Path]:
    """The project's corpus plus containers and damage it lacks: an MP4 with its index at
    the end, WAV, ADTS AAC, AVI, empty and text files, cuts at 10 %, zeroed tails, 2 KiB
    heads, random headers."""
    folder = tmp_path_factory.mktemp("more-media")
    video = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine", "-t", "3"]
    _ffmpeg(*video, "-c:v", "mpeg4", "-c:a", "aac", str(folder / "ok-end.mp4"))
    _ffmpeg(*video, "-c:v", "mpeg4", "-c:a", "mp3", str(folder / "ok.avi"))
    _ffmpeg("-f", "lavfi", "-i", "sine", "-t", "3", str(folder / "ok.wav"))
    _ffmpeg("-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "aac", str(folder / "ok.aac"))
    rng = random.Random(2)
    files = dict(media)
    healthy = [folder / n for n in ("ok-end.mp4", "ok.avi", "ok.wav", "ok.aac")]
    healthy += [media[n] for n in ("ok.mkv", "ok.mp4", "ok.mp3", "ok.flac")]
    for source in healthy:
        data = source.read_bytes()
        damaged = {
            "trunc10": data[: len(data) // 10],
            "head2k": data[:2048],
            "zerotail": data[: len(data) * 3 // 4] + b"\0" * (len(data) - len(data) * 3 // 4),
            "randhead": rng.randbytes(4096) + data[4096:],
        }
        if source.parent == folder:
            damaged |= {"trunc50": data[: len(data) // 2], "zerohead": b"\0" * 4096 + data[4096:]}
        files[source.name] = source
        for kind, content in damaged.items():
            path = folder / f"{kind}-{source.stem}{source.suffix}"
            path.write_bytes(content)
            files[path.name] = path
    for name, content in {"empty.mkv": b"", "text.mp4": b"hello world\n" * 200,
                          "random.mp3": rng.randbytes(50_000), "random.mp4": rng.randbytes(50_000)}.items():
        (folder / name).write_bytes(content)
        files[name] = folder / name
    return files


def test_the_av_prober_gives_ffprobes_verdict_on_every_file_of_the_corpus(more_media):
    with AvProber() as prober:
        av_verdicts = {name: prober.probe(str(path), timeout=15) for name, path in more_media.items()}
    ffprobe_verdicts = {name: probe_full(str(path)) for name, path in more_media.items()}

    assert {n: v.verdict for n, v in av_verdicts.items()} == {n: v.verdict for n, v in ffprobe_verdicts.items()}
    corrupted = {n for n, v in av_verdicts.items() if v.verdict == "CORRUPTED"}
    # the corpus does exercise both answers, and the files the docs say the query catches
    assert {"zerohead.mkv", "random.mkv", "zerohead.mp4", "empty.mkv", "text.mp4"} <= corrupted
    assert {"ok.mkv", "ok.mp4", "ok.mp3", "ok.flac", "ok-end.mp4", "ok.wav", "trunc50.mkv"}.isdisjoint(corrupted)
    assert all(v.reason and v.reason.startswith("libav: ") for n, v in av_verdicts.items() if n in corrupted)


def test_workers_are_reused_across_probes(media):
    with AvProber() as prober:
        for _ in range(3):
            for name in ("ok.mkv", "random.mkv", "ok.mp3"):
                prober.probe(str(media[name]), timeout=15)
        assert prober.started == 1


def _workers() -> set[int]:
    """Our live PyAV worker processes (zombies excluded): our children, and the ones the
    first worker forked."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or b"avworker" not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    ours = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return ours | {pid for pid, parent in parents.items() if parent in ours}


def _workers_gone() -> bool:
    """They leave on their own once told (closing does not wait for them): within 10 s."""
    for _ in range(100):
        if not _workers():
            return True
        time.sleep(0.1)
    return False


def test_a_worker_past_its_timeout_is_killed_and_the_next_probe_works(tmp_path, media):
    fifo = tmp_path / "hangs.mkv"
    os.mkfifo(fifo)  # opening it for reading blocks until a writer comes: a hung read
    with AvProber() as prober:
        started = time.monotonic()
        verdict = prober.probe(str(fifo), timeout=1.0)
        assert verdict.verdict == "UNKNOWN" and verdict.late
        assert time.monotonic() - started < 5
        for _ in range(50):
            if not _workers():
                break
            time.sleep(0.1)
        assert _workers() == set(), "the hung worker was not killed"
        assert prober.probe(str(media["ok.mkv"]), timeout=15).verdict == "OK"
        assert prober.started == 2 and len(_workers()) == 1
    assert _workers_gone()  # closing the prober ends its idle workers


def test_a_worker_that_dies_during_a_probe_is_replaced_and_the_file_is_corrupted(tmp_path, media):
    crash = tmp_path / "crash.mkv"
    crash.write_bytes(b"x")
    # a worker program that crashes like a segfaulting FFmpeg on that one file
    program = tmp_path / "crashing_worker.py"
    source = Path(AvProber().program).read_text()
    signature = "def _answer(path: str, fd: int | None) -> dict:\n"
    assert signature in source
    program.write_text(source.replace(signature, signature + "    import os, signal\n"
                                      f"    if path == {str(crash)!r}:\n        os.kill(os.getpid(), signal.SIGSEGV)\n"))
    with AvProber() as prober:
        prober.program = str(program)
        verdict = prober.probe(str(crash), timeout=15)
        assert verdict.verdict == "CORRUPTED" and "died" in verdict.reason
        assert prober.probe(str(media["ok.mp4"]), timeout=15).verdict == "OK"
        assert prober.started == 3  # the crash, the retry's crash, then a fresh one


def test_a_full_scan_finds_the_same_problems_with_either_prober(tree, more_media, monkeypatch, tmp_path):
    for name, path in more_media.items():
        tree.link(name, path)
    # names that are not UTF-8 reach the workers (JSON, surrogate escapes) intact
    tree.link(os.fsdecode(b"healthy-\xff.mkv"), more_media["ok.mkv"])
    tree.link(os.fsdecode(b"broken-\xff.mkv"), more_media["random.mkv"])
    found = {}
    for prober in ("av", "ffprobe"):
        problems = []
        result = run_scan(ScanOptions(paths=[str(tree.library)], depth="full", workers=3, prober=prober),
                          on_problem=problems.append)
        found[prober] = {(Path(p.path).name, p.status, p.phase) for p in problems}
        assert result.statistics["phase2_analyzed"] == result.statistics["media_links"]
    assert found["av"] == found["ffprobe"]
    assert ("random.mkv", "CORRUPTED", 2) in found["av"] and ("empty.mkv", "SMALL_FILE", 1) in found["av"]
    assert (os.fsdecode(b"broken-\xff.mkv"), "CORRUPTED", 2) in found["av"]
    assert not any(name == os.fsdecode(b"healthy-\xff.mkv") for name, _, _ in found["av"])

    # the av prober needs no ffprobe at all for a full scan
    monkeypatch.setenv("PATH", str(tmp_path))
    problems = []
    run_scan(ScanOptions(paths=[str(tree.library)], depth="full", prober="av"), on_problem=problems.append)
    assert {(Path(p.path).name, p.status, p.phase) for p in problems} == found["ffprobe"]


def test_an_unknown_prober_is_refused():
    with pytest.raises(ValueError, match="prober"):
        ScanOptions(paths=["/"], prober="mediainfo")


def test_workers_started_ahead_serve_concurrent_probes(media):
    from concurrent.futures import ThreadPoolExecutor

    with AvProber() as prober:
        prober.start(3)
        assert prober.started == 3 and len(_workers()) == 3
        names = ["ok.mkv", "random.mkv", "ok.mp3"] * 4
        with ThreadPoolExecutor(3) as pool:
            verdicts = list(pool.map(lambda n: prober.probe(str(media[n]), timeout=15).verdict, names))
        assert verdicts == ["OK", "CORRUPTED", "OK"] * 4
        assert prober.started == 3


def test_workers_start_with_the_first_file_to_probe_and_not_on_a_cached_rescan(tree, media, engine, monkeypatch):
    from toolkit.plugins.symlink.verdicts import SqlVerdictStore

    starts = []
    real_start = AvProber.start
    monkeypatch.setattr(AvProber, "start", lambda self, count: (starts.append(count), real_start(self, count)))
    for name in ("ok.mkv", "ok.mp3", "random.mkv"):
        tree.link(name, media[name])
    store = SqlVerdictStore(engine)
    options = dict(paths=[str(tree.library)], depth="full", workers=2, prober="av")

    first = run_scan(ScanOptions(**options), verdict_store=store)
    second = run_scan(ScanOptions(**options), verdict_store=store)

    assert first.statistics["phase2_probed"] == 3 and first.statistics["phase2_corrupted"] == 1
    assert second.statistics["skipped_cached"] == 3 and second.statistics["phase2_corrupted"] == 1
    assert starts == [2]  # the first scan's; the re-scan had nothing to probe


def _phase1_held_until_a_probe_ran(tree, media, monkeypatch):
    """A library whose last link phase 1 cannot settle before a probe has finished (as
    if its stat waited on a slow mount); returns the event the probes set and the list
    where the held link says whether a probe released it (or its wait ran out)."""
    from toolkit.plugins.symlink.engine.classify import LinkClassifier

    for name in ("ok.mkv", "random.mkv", "ok.mp3", "zerohead.mkv"):
        tree.link(name, media[name])
    tree.link("zz-held.mkv", media["ok.mp4"])
    probed = threading.Event()
    released: list[bool] = []
    real_probe, real_classify = AvProber.probe, LinkClassifier.classify_for_scan

    def probe(self, path, **kwargs):
        try:
            return real_probe(self, path, **kwargs)
        finally:
            probed.set()

    def classify(self, path):
        if path.endswith("zz-held.mkv"):
            released.append(probed.wait(30))
        return real_classify(self, path)

    monkeypatch.setattr(AvProber, "probe", probe)
    monkeypatch.setattr(LinkClassifier, "classify_for_scan", classify)
    return probed, released


def test_phase_2_probes_while_phase_1_runs_and_settles_after_it(tree, media, monkeypatch):
    """A first full scan on a mount is one paced request per media link: the probes must
    not wait for phase 1 to end. Its links go through the threads (no local processes),
    the held one last; it is released only by a probe that finished."""
    probed, released = _phase1_held_until_a_probe_ran(tree, media, monkeypatch)
    phases = []
    problems = []
    result = run_scan(ScanOptions(paths=[str(tree.library)], depth="full", workers=1, local_processes=0,
                                  fs_timeout=60),
                      on_problem=problems.append, on_progress=lambda p: phases.append(p.phase))

    assert released == [True]
    assert result.statistics["phase1_ok"] == 5 and result.statistics["phase2_probed"] == 5
    assert {(Path(p.path).name, p.status, p.phase) for p in problems} == {("random.mkv", "CORRUPTED", 2),
                                                                          ("zerohead.mkv", "CORRUPTED", 2)}
    # settled after phase 1, as before: no phase-2 counts or problems while it runs
    assert phases.index("phase2") > max(i for i, phase in enumerate(phases) if phase == "phase1")


def test_what_phase_2_probed_during_a_cancelled_phase_1_is_dropped(tree, media, monkeypatch):
    probed, released = _phase1_held_until_a_probe_ran(tree, media, monkeypatch)
    problems = []
    result = run_scan(ScanOptions(paths=[str(tree.library)], depth="full", workers=1, local_processes=0,
                                  fs_timeout=60),
                      on_problem=problems.append, should_abort=probed.is_set)

    assert released == [True] and result.cancelled
    assert result.statistics["phase2_analyzed"] == 0 and result.statistics["phase2_corrupted"] == 0
    assert not [p for p in problems if p.phase == 2]
