"""How long re-targeting's searches take on a large local tree (issue 16 item 2): the file
index for a scan's broken links, the moved-mount plan, and applying it (journal first, one
atomic replacement per link).

    .venv/bin/python bench/retarget.py --releases 20000 --links 20000

A "mount" of ``--releases`` release folders (one small file each, plus a sample file) in a
temporary folder; a library of ``--links`` links into it. Then: 1% of the release folders
renamed and the index built for their links' names (the web's "Look for moved files"); the
whole mount moved and the moved-mount plan made and applied (``symlink retarget --from --to
--apply``).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from toolkit.plugins.symlink.engine.find_moved import broken_links, find_moved
from toolkit.plugins.symlink.engine.mounts import MountMonitor
from toolkit.plugins.symlink.engine.moved_mount import plan_prefix
from toolkit.plugins.symlink.engine.retarget import retarget_links
from toolkit.plugins.symlink.engine.walk import walk_links


class MemoryJournal:
    """The journal's calls without a database (the database's cost is the deletion's, measured elsewhere)."""

    def __init__(self) -> None:
        self.rows = 0

    def record_pending(self, **fields) -> int:
        self.rows += 1
        return self.rows

    def mark(self, entry_id, state, *, error=None) -> None:
        pass


def build(root: Path, releases: int, links: int) -> tuple[Path, Path]:
    mount, library = root / "zurg" / "__all__", root / "library"
    for n in range(releases):
        folder = mount / f"Release.{n:06d}.1080p.WEB"
        folder.mkdir(parents=True)
        (folder / f"Release.{n:06d}.1080p.WEB.mkv").write_bytes(b"\x1a" * 64)
        (folder / "sample.mkv").write_bytes(b"\x1a" * 8)
    for n in range(links):
        target = mount / f"Release.{n % releases:06d}.1080p.WEB" / f"Release.{n % releases:06d}.1080p.WEB.mkv"
        link = library / f"Show {n // 100:04d}" / f"E{n:06d}.mkv"
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)
    return mount, library


def timed(label: str, fn):
    started = time.perf_counter()
    value = fn()
    print(f"{label}: {time.perf_counter() - started:.2f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", type=int, default=20000)
    parser.add_argument("--links", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mount, library = timed("build", lambda: build(root, args.releases, args.links))
        renamed = [mount / f"Release.{n:06d}.1080p.WEB" for n in range(0, args.releases, 100)]
        for folder in renamed:
            os.rename(folder, f"{folder}-GRP")
        broken, _ = timed("broken links (walk + readlink + stat)",
                          lambda: broken_links(walk_links([str(library)]), fs_timeout=10))
        found = timed(f"find_moved for {len(broken)} broken links (one index)",
                      lambda: find_moved(broken, MountMonitor(), exclude=[str(library)]))
        proposed = sum(1 for p in found.proposals if p.new_target)
        print(f"  proposals: {proposed} / {len(broken)}; index: {found.index.folders} folders, "
              f"{found.index.entries} entries, stopped: {found.index.stopped}")
        for folder in renamed:
            os.rename(f"{folder}-GRP", folder)
        moved = root / "remote" / "__all__"
        moved.parent.mkdir()
        shutil.move(str(mount), str(moved))
        plan = timed("moved-mount plan (walk + readlink + exists)",
                     lambda: plan_prefix(walk_links([str(library)]), str(mount), str(moved)))
        print(f"  {len(plan.changes)} to re-point, {plan.missing} missing, stopped: {plan.stopped}")
        outcomes = timed("apply (re-check, journal, atomic replace)",
                         lambda: retarget_links(plan.changes, journal=MemoryJournal(), root=str(library),
                                                monitor=MountMonitor(), kind="prefix", batch="bench",
                                                require_broken=False))
        print(f"  retargeted: {sum(o.outcome == 'retargeted' for o in outcomes)}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
