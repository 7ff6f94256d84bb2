"""Why a link is listed (and why a scan stopped, a mount is down, a deletion was held back) in
the reader's language.

The engine writes these reasons in English (it imports no translation code: it is the
command line's path and runs in child processes), and they are stored and served in English:
the scan report file, ``--json`` and the API's ``reason`` fields keep the engine's words, a
public contract scripts may match on. The page, the deletion dialog, the notifications and
the command line's report show them through :func:`reason_text`, which recognises the
engine's sentence shapes below and translates them; what the system or ffprobe said inside
(an error text) stays as said, except the usual ``errno`` texts. A shape the table does not
know is shown in English: ``tests/symlink/test_reasons.py`` holds one example of each reason
the engine writes, so that a new or reworded one fails there.
"""
from __future__ import annotations

import errno
import functools
import os
import re

from toolkit.api import N_, language
from toolkit.api import gettext as _

NUMBER = r"[\d.]+"
QUOTED = "'[^']*'|\"[^\"]*\""  # a path as repr() writes it
# (English shape, French-catalog message); groups named in NESTED are reasons themselves.
# Outer shapes first: a reason wraps another (": nothing was deleted", "mount X is down: ...").
SHAPES = [(r"(?P<reason>.+): nothing was deleted", N_("%(reason)s: nothing was deleted")),
          (r"(?P<reason>.+): the filesystem is not answering", N_("%(reason)s: the filesystem is not answering")),
          (r"(?P<reason>.+); mount (?P<mount>.+) is down", N_("%(reason)s; mount %(mount)s is down")),
          (r"(?P<reason>.+); mount (?P<mount>.+) answered", N_("%(reason)s; mount %(mount)s answered")),
          (r"the scan stopped: (?P<reason>.+)", N_("the scan stopped: %(reason)s")),
          (r"mass-deletion limit: (?P<reason>.+)", N_("mass-deletion limit: %(reason)s")),
          (r"override: (?P<reason>.+)", N_("override: %(reason)s")),
          (r"the scanned path's mount (?P<mount>.+?) is down: (?P<reason>.+)",
           N_("the scanned path's mount %(mount)s is down: %(reason)s")),
          (r"mount (?P<mount>.+?) is down: (?P<reason>.+)", N_("mount %(mount)s is down: %(reason)s")),
          # phase 1 (checker)
          (r"symlink loop", N_("symlink loop")),
          (r"target missing: (?P<reason>.+)", N_("target missing: %(reason)s")),
          (r"cannot reach the target: (?P<reason>.+)", N_("cannot reach the target: %(reason)s")),
          (r"directory not readable", N_("directory not readable")),
          (r"not readable", N_("not readable")),
          (r"not readable: (?P<reason>.+)", N_("not readable: %(reason)s")),
          (r"(?P<size>\d+) bytes \(< (?P<limit>\d+)\)", N_("%(size)s bytes (< %(limit)s)")),
          (r"target root (?P<path>.+) is empty and not a mount point: looks unmounted",
           N_("target root %(path)s is empty and not a mount point: looks unmounted")),
          (r"empty and not a mount point: looks unmounted \(the links into it are UNKNOWN\)",
           N_("empty and not a mount point: looks unmounted (the links into it are UNKNOWN)")),
          (r"mount (?P<path>.+) is mounted but empty", N_("mount %(path)s is mounted but empty")),
          (r"mounted but empty \(the links into it are UNKNOWN\)",
           N_("mounted but empty (the links into it are UNKNOWN)")),
          (rf"no answer within (?P<seconds>{NUMBER})s", N_("no answer within %(seconds)s s")),
          (rf"no answer within (?P<seconds>{NUMBER})s, nor in (?P<more>{NUMBER})s more at the end of the phase",
           N_("no answer within %(seconds)s s, nor in %(more)s s more at the end of the phase")),
          (rf"library folder did not answer within (?P<seconds>{NUMBER})s: its links were not checked",
           N_("library folder did not answer within %(seconds)s s: its links were not checked")),
          (r"target folder (?P<path>.+?) does not exist; (?P<reason>.+)",
           N_("target folder %(path)s does not exist; %(reason)s")),
          (r"does not exist; (?P<reason>.+)", N_("does not exist; %(reason)s")),
          (r"(?P<links>\d+) of the scan's (?P<total>\d+) links point into it, under (?P<path>.+) which exists: "
           r"the mount that should be there is not visible here",
           N_("%(links)s of the scan's %(total)s links point into it, under %(path)s which exists: "
              "the mount that should be there is not visible here")),
          (r"cannot list it: (?P<reason>.+)", N_("cannot list it: %(reason)s")),
          (rf"(?P<count>\d+) filesystem calls hung past (?P<seconds>{NUMBER})s",
           N_("%(count)s filesystem calls hung past %(seconds)s s")),
          (r"cannot start worker processes: (?P<detail>.+)", N_("cannot start worker processes: %(detail)s")),
          (r"worker process failed: (?P<detail>.+)", N_("worker process failed: %(detail)s")),
          (rf"a worker process took more than (?P<seconds>{NUMBER})s on one batch",
           N_("a worker process took more than %(seconds)s s on one batch")),
          (rf"(?P<path>/.+): no answer within (?P<seconds>{NUMBER})s; its links were not checked",
           N_("%(path)s: no answer within %(seconds)s s; its links were not checked")),
          (r"walk stopped: (?P<count>\d+) folders did not answer", N_("walk stopped: %(count)s folders did not answer")),
          # phase 2 (probe)
          (r"stat before probing failed: (?P<reason>.+)", N_("stat before probing failed: %(reason)s")),
          (r"probe hung past its deadline", N_("probe hung past its deadline")),
          (r"probe passed its deadline; not retried \(the scan stopped\)",
           N_("probe passed its deadline; not retried (the scan stopped)")),
          (rf"(?P<tool>ffprobe|ffmpeg) timed out after (?P<seconds>{NUMBER})s and was killed",
           N_("%(tool)s timed out after %(seconds)s s and was killed")),
          (r"(?P<tool>ffprobe|ffmpeg) could not read the file: (?P<detail>.+)",
           N_("%(tool)s could not read the file: %(detail)s")),
          (r"(?P<tool>ffprobe|libav): the container states no duration",
           N_("%(tool)s: the container states no duration")),
          (r"(?P<tool>ffprobe|libav): (?P<detail>.+)", N_("%(tool)s: %(detail)s")),
          (rf"the PyAV probe timed out after (?P<seconds>{NUMBER})s and was killed",
           N_("the PyAV probe timed out after %(seconds)s s and was killed")),
          (r"the PyAV probe process did not start: (?P<detail>.+)", N_("the PyAV probe process did not start: %(detail)s")),
          (r"the probe process died \((?P<detail>.+)\)", N_("the probe process died (%(detail)s)")),
          (r"the probe process is gone \((?P<detail>.+)\)", N_("the probe process is gone (%(detail)s)")),
          (rf"nothing decodes at (?P<at>{NUMBER})s of (?P<duration>{NUMBER})s: (?P<detail>.+)",
           N_("nothing decodes at %(at)s s of %(duration)s s: %(detail)s")),
          (rf"damaged data at (?P<at>{NUMBER})s: (?P<detail>.+)", N_("damaged data at %(at)s s: %(detail)s")),
          (rf"decoding at (?P<at>{NUMBER})s: (?P<reason>.+)", N_("decoding at %(at)s s: %(reason)s")),
          (r"(?P<tool>\S+) not found: depth 'full' and 'deep' need ffmpeg \(apt-get install ffmpeg\)",
           N_("%(tool)s not found: depth 'full' and 'deep' need ffmpeg (apt-get install ffmpeg)")),
          # mounts
          (rf"mount root took more than (?P<seconds>{NUMBER})s, but other calls completed \(slow\)",
           N_("mount root took more than %(seconds)s s, but other calls completed (slow)")),
          (rf"nothing on the mount answered within (?P<seconds>{NUMBER})s \(hung\)",
           N_("nothing on the mount answered within %(seconds)s s (hung)")),
          (r"expected mount point is not mounted", N_("expected mount point is not mounted")),
          (r"not mounted here, or not visible \(earlier scans saw (?P<source>.+)\)",
           N_("not mounted here, or not visible (earlier scans saw %(source)s)")),
          (rf"no call on the mount completed for (?P<seconds>{NUMBER})s while (?P<count>\d+) were pending \(hung\)",
           N_("no call on the mount completed for %(seconds)s s while %(count)s were pending (hung)")),
          (r"degraded \(slow\) during the scan", N_("degraded (slow) during the scan")),
          (r"down", N_("down")),
          # deletion: the mass-deletion guard, links that changed since the scan, restore
          (r"(?P<count>\d+) deletions exceed the limit of (?P<limit>\d+)",
           N_("%(count)s deletions exceed the limit of %(limit)s")),
          (r"(?P<count>\d+) deletions are (?P<share>\d+%) of (?P<scanned>\d+) scanned links \(limit (?P<limit>\d+%)\)",
           N_("%(count)s deletions are %(share)s of %(scanned)s scanned links (limit %(limit)s)")),
          (r"gone already", N_("gone already")),
          (r"no longer a symlink", N_("no longer a symlink")),
          (r"the link now points elsewhere", N_("the link now points elsewhere")),
          (r"phase 1 now says (?P<status>.+): re-scan before deleting",
           N_("phase 1 now says %(status)s: re-scan before deleting")),
          (r"the link is fine now", N_("the link is fine now")),
          (r"status changed to (?P<status>\S+)", N_("status changed to %(status)s")),
          (r"status changed to (?P<status>\S+) \((?P<reason>.+)\)", N_("status changed to %(status)s (%(reason)s)")),
          (r"the path is occupied", N_("the path is occupied")),
          # the automatic deletion after a scheduled scan (service.scans)
          (r"scheduled deletions are off in Settings: this real-mode scan only reported",
           N_("scheduled deletions are off in Settings: this real-mode scan only reported")),
          (r"a mount was down during the scan", N_("a mount was down during the scan")),
          (r"(?P<count>\d+) link\(s\) could not be checked \(UNKNOWN: their mount was down or did not answer\)",
           N_("%(count)s link(s) could not be checked (UNKNOWN: their mount was down or did not answer)")),
          (r"nothing to delete", N_("nothing to delete")),
          # the folders a scan may cover (service.paths), also in a scheduled scan's stored error
          (r"invalid scan paths: none", N_("invalid scan paths: none")),
          (r"invalid scan paths: (?P<reason>.+)", N_("invalid scan paths: %(reason)s")),
          (r"empty or invalid path", N_("empty or invalid path")),
          (rf"(?P<path>{QUOTED}): '\.\.' is not allowed", N_("%(path)s: '..' is not allowed")),
          (rf"(?P<path>{QUOTED}) is not under the media path (?P<media>.+)", N_("%(path)s is not under the media path %(media)s")),
          (rf"(?P<path>{QUOTED}) leads outside the media path through a symlink",
           N_("%(path)s leads outside the media path through a symlink")),
          (rf"(?P<path>{QUOTED}) is not an existing folder", N_("%(path)s is not an existing folder")),
          # re-pointing (engine.retarget): proposals, then the re-check before each link changes
          (r"same name and size", N_("same name and size")),
          (r"the mount holding it is down: not searched", N_("the mount holding it is down: not searched")),
          (r"no folder of its path is left to search", N_("no folder of its path is left to search")),
          (r"same name \(the old size is not known\)", N_("same name (the old size is not known)")),
          (r"no file named (?P<name>.+?) \(the search stopped early: (?P<reason>.+)\)",
           N_("no file named %(name)s (the search stopped early: %(reason)s)")),
          (r"no file named (?P<name>.+)", N_("no file named %(name)s")),
          (r"(?P<count>\d+) file\(s\) named (?P<name>.+), none of (?P<size>\d+) bytes",
           N_("%(count)s file(s) named %(name)s, none of %(size)s bytes")),
          (r"(?P<count>\d+) files named (?P<name>.+) could be it", N_("%(count)s files named %(name)s could be it")),
          (r"the link is gone", N_("the link is gone")),
          (r"the link works again", N_("the link works again")),
          (r"the new target is not a file", N_("the new target is not a file")),
          (r"the new target is not there: (?P<reason>.+)", N_("the new target is not there: %(reason)s")),
          (r"the new target's mount (?P<mount>.+?) is down: (?P<reason>.+)",
           N_("the new target's mount %(mount)s is down: %(reason)s")),
          (r"the old target's mount (?P<mount>.+?) is down: (?P<reason>.+)",
           N_("the old target's mount %(mount)s is down: %(reason)s")),
          (r"the old target cannot be checked: (?P<reason>.+)", N_("the old target cannot be checked: %(reason)s")),
          (rf"the re-check did not finish within (?P<seconds>{NUMBER})s",
           N_("the re-check did not finish within %(seconds)s s")),
          (r"the link points elsewhere at the moment of re-pointing",
           N_("the link points elsewhere at the moment of re-pointing"))]


@functools.cache
def _rules() -> list[tuple[re.Pattern[str], str]]:
    """Compiled when first needed: English readers never need them (93 patterns, ~7 ms of
    the command's start-up)."""
    return [(re.compile(shape), message) for shape, message in SHAPES]


NESTED = {"reason"}

# the system's error texts the engine quotes as "<strerror> (errno N)"
ERRNO_TEXTS = {errno.ENOENT: N_("No such file or directory"), errno.EACCES: N_("Permission denied"),
               errno.EIO: N_("Input/output error"), errno.ENOTCONN: N_("Transport endpoint is not connected"),
               errno.ELOOP: N_("Too many levels of symbolic links"), errno.ENOTDIR: N_("Not a directory"),
               errno.ETIMEDOUT: N_("Connection timed out"), errno.ESTALE: N_("Stale file handle"),
               errno.ENODEV: N_("No such device"), errno.EPERM: N_("Operation not permitted")}
ERRNO = re.compile(r"(?P<text>[A-Z][A-Za-z/ ]+) \(errno (?P<number>\d+)\)")


def _system_error(match: re.Match) -> str:
    number = int(match.group("number"))
    if number in ERRNO_TEXTS and match.group("text") == os.strerror(number):
        return f"{_(ERRNO_TEXTS[number])} (errno {number})"
    return match.group(0)


def _translated(reason: str, depth: int = 0) -> str:
    if depth < 6:
        for pattern, message in _rules():
            if match := pattern.fullmatch(reason):
                values = {name: _translated(value, depth + 1) if name in NESTED else ERRNO.sub(_system_error, value)
                          for name, value in match.groupdict().items()}
                return _(message, **values)
        if "; " in reason:  # a list of reasons (one per refused folder)
            return "; ".join(_translated(part, depth + 1) for part in reason.split("; "))
    return ERRNO.sub(_system_error, reason)


def reason_text(reason: str | None) -> str | None:
    """``reason`` (an engine's or the service's English sentence) in the current language."""
    if not reason or language() == "en":
        return reason
    return _translated(reason)
