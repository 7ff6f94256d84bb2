"""The program of a long-lived probe process: the original's header query, with PyAV.

Started by :mod:`avprobe` as ``python -I -S avworker.py SITE_DIR`` (no site, no toolkit
import: only the standard library and ``av``), it receives one request per file on its
stdin, a Unix socket (one JSON message ``{"path": ...}``, with the file's open
descriptor attached when the caller opened it: SCM_RIGHTS), and answers one JSON line on
stdout: ``{"types": ["video", "audio"], "log": [...], "error": "PATH: message" | null,
"errno": N | null}``, or ``{"read_error": [errno, "message"]}`` when the file cannot be
opened. A descriptor comes from the scan, which opened the file and made phase 1's read
check on it (see :meth:`avprobe.AvProber.probe`): the probe reads the same handle, so
through rclone both are one request, and that request does not wait for this process to
start. ``types`` is what ``ffprobe -show_entries stream=codec_type`` prints (one codec type per stream, after ``avformat_open_input`` and
``avformat_find_stream_info`` succeeded); ``log`` and ``error`` are what ffprobe's
``-v error`` writes on stderr. The verdict is made by the caller, with the same rule as
for ffprobe's output.

Why a process and not a thread of the scan: a read of a hung FUSE mount blocks in the
kernel; the caller abandons (SIGKILL) a process past its deadline and starts another.
Why long-lived: starting ffprobe costs ~64 ms of CPU per file, this ~1-3 ms.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys

_LOG_LINES = 20
# the buffer FFmpeg's first reads are served from, and what the scan's read check asks
# the mount for (avprobe.CHECK_READ_BYTES): the same first read as when this process
# opened the file itself and read it through that buffer
_BUFFER_BYTES = 64 * 1024


def _answer(path: str, fd: int | None) -> dict:
    import av
    import av.logging

    try:
        if fd is None:
            file = open(path, "rb", buffering=_BUFFER_BYTES)
        else:
            file = open(fd, "rb", buffering=_BUFFER_BYTES)
            file.raw.name = path  # not the descriptor's number: see below
        try:
            file.seek(0)  # the scan's read check moved the shared offset
        except OSError:
            file.close()
            raise
    except OSError as exc:
        return {"read_error": [exc.errno, exc.strerror or str(exc)]}
    types: list[str] = []
    error, error_number = None, None
    with file, av.logging.Capture() as logs:
        try:
            # the file object keeps its name: FFmpeg's format probe weighs the extension
            # as it does for a path
            with av.open(file) as container:
                types = [stream.type or "unknown" for stream in container.streams]
        except av.error.FFmpegError as exc:
            # ffprobe's print_error(): "PATH: strerror"
            error, error_number = f"{path}: {exc.strerror}", exc.errno
        except (OSError, ValueError, MemoryError) as exc:
            error = f"{path}: {exc}"
            error_number = getattr(exc, "errno", None)
    lines = [f"[{name}] {message.rstrip()}" if name else message.rstrip()
             for level, name, message in logs[:_LOG_LINES] if level <= av.logging.ERROR]
    return {"types": types, "log": lines, "error": error, "errno": error_number}


def _serve(requests: int, answers: int) -> None:
    """Answer the requests received on one descriptor (a Unix socket) on the other, until
    the caller closes its end."""
    channel = socket.socket(fileno=requests)
    with open(answers, "w", encoding="utf-8", closefd=False) as out:
        def send(answer: dict) -> None:
            out.write(json.dumps(answer) + "\n")
            out.flush()

        send({"ready": True, "pid": os.getpid()})
        while True:
            message, fds, _, _ = socket.recv_fds(channel, 1 << 16, 1)
            if not message:
                return
            send(_answer(json.loads(message)["path"], fds[0] if fds else None))


def main() -> None:
    """``avworker.py SITE [REQUESTS,ANSWERS ...]``: import PyAV, then fork one more worker
    per descriptor pair (they share the imported libraries: a fork costs ~2 ms, an import
    ~0.1 s of CPU), then serve stdin/stdout."""
    sys.path.insert(0, sys.argv[1])
    channels = [tuple(int(fd) for fd in pair.split(",")) for pair in sys.argv[2:]]
    try:
        import av.logging
    except ImportError as exc:
        sys.stdout.write(json.dumps({"ready": False, "error": f"PyAV cannot be imported: {exc}"}) + "\n")
        sys.stdout.flush()
        return
    av.logging.set_level(av.logging.ERROR)  # ffprobe -v error
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the forked workers are reaped by the kernel
    for index, (requests, answers) in enumerate(channels):
        if os.fork() == 0:
            try:
                # only its own channel open: a parent waiting for the end of another
                # worker's output (its death) must not wait for this one
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                os.dup2(null, 1)
                for fd in (fd for pair in channels[index + 1:] for fd in pair):
                    os.close(fd)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _serve(requests, answers)
            finally:
                os._exit(0)
        os.close(requests)
        os.close(answers)
    _serve(0, 1)
    # at once, as the forked ones: the interpreter's teardown with FFmpeg's libraries
    # loaded is what the scan's end would wait for
    os._exit(0)


if __name__ == "__main__":
    main()
