"""The program of a long-lived probe process: the original's header query, with PyAV.

Started by :mod:`avprobe` as ``python -I -S avworker.py SITE_DIR`` (no site, no toolkit
import: only the standard library and ``av``), it reads one JSON line per file
(``{"path": ...}``) on stdin and answers one JSON line on stdout:
``{"types": ["video", "audio"], "log": [...], "error": "PATH: message" | null,
"errno": N | null}``. ``types`` is what ``ffprobe -show_entries stream=codec_type``
prints (one codec type per stream, after ``avformat_open_input`` and
``avformat_find_stream_info`` succeeded); ``log`` and ``error`` are what ffprobe's
``-v error`` writes on stderr. The verdict is made by the caller, with the same rule as
for ffprobe's output.

Why a process and not a thread of the scan: a read of a hung FUSE mount blocks in the
kernel; the caller abandons (SIGKILL) a process past its deadline and starts another.
Why long-lived: starting ffprobe costs ~64 ms of CPU per file, this ~1-3 ms.
"""
from __future__ import annotations

import json
import sys

_LOG_LINES = 20


def _answer(path: str) -> dict:
    import av
    import av.logging

    types: list[str] = []
    error, error_number = None, None
    with av.logging.Capture() as logs:
        try:
            with av.open(path) as container:
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


def main() -> None:
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])
    try:
        import av.logging
    except ImportError as exc:
        sys.stdout.write(json.dumps({"ready": False, "error": f"PyAV cannot be imported: {exc}"}) + "\n")
        sys.stdout.flush()
        return
    av.logging.set_level(av.logging.ERROR)  # ffprobe -v error
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.write(json.dumps(_answer(request["path"])) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
