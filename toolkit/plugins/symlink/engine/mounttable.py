"""Where a path lives: the mount table (``/proc/self/mountinfo``) and the kinds of
filesystems; link targets resolved without touching the filesystem are in
:mod:`.linkpaths` (re-exported here)."""
from __future__ import annotations

import errno
import functools
import os
import re
import struct
from dataclasses import dataclass

from .linkpaths import is_under, lexical_target  # noqa: F401  (the engine imports them from here)

# errno values meaning "the filesystem cannot answer", not "the file is bad".
UNKNOWN_ERRNOS = frozenset(
    {errno.ENOTCONN, errno.ESTALE, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ETIMEDOUT, errno.ECONNABORTED,
     errno.ECONNREFUSED, errno.ECONNRESET, errno.ENODEV, errno.EINTR}
)

# Filesystems a debrid library's targets live on (rclone/zurg FUSE mounts, network
# shares): a scan remembers those it saw answering, so that one missing later is "not
# visible" rather than a library of BROKEN links.
NETWORK_FSTYPES = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "davfs", "virtiofs"})
# Local disk filesystems: a link into one can be checked by a worker process (quick.py)
LOCAL_FSTYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "tmpfs", "overlay"})
# pseudo fstypes of mount points that are missing from the mount table
EXPECTED, KNOWN = "expected", "known"


def is_network_fstype(fstype: str) -> bool:
    return fstype.startswith("fuse") or fstype in NETWORK_FSTYPES

@dataclass(frozen=True)
class MountPoint:
    path: str
    fstype: str
    source: str


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field_text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field_text)


def read_mount_table(mountinfo: str = "/proc/self/mountinfo") -> list[MountPoint]:
    mounts = []
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            left_fields, right_fields = left.split(), right.split()
            if len(left_fields) < 5 or len(right_fields) < 2:
                continue
            mounts.append(MountPoint(_unescape(left_fields[4]), right_fields[0], _unescape(right_fields[1])))
    return mounts


_AT_FDCWD, _STATX_BTIME, _STATX_BASIC_STATS = -100, 0x800, 0x7FF
_STATX_BTIME_OFFSET = 80  # struct statx: mask, blksize, attributes, ..., atime (64), btime (80)


@functools.cache
def _statx():  # ctypes (~0.5 MiB) loaded when a birth time is first needed: rarely
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).statx, ctypes.create_string_buffer  # glibc >= 2.28
    except (OSError, AttributeError):
        return None, None


def birth_time_ns(path: str) -> int | None:
    """When ``path`` was created (statx's btime), or None when the system or the
    filesystem does not say (Python's os.stat has no birth time)."""
    statx, make_buffer = _statx()
    if statx is None:
        return None
    buffer = make_buffer(256)
    if statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BASIC_STATS | _STATX_BTIME, buffer) != 0:
        return None
    mask, = struct.unpack_from("I", buffer, 0)
    seconds, nanoseconds = struct.unpack_from("qI", buffer, _STATX_BTIME_OFFSET)
    if not mask & _STATX_BTIME or seconds <= 0:
        return None
    return seconds * 1_000_000_000 + nanoseconds
