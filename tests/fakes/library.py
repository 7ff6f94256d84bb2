"""A generated media library of real symlinks (healthy, broken, small, sidecar) under a
temporary folder: what the symlink page, API, schedules and fuzz tests scan."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MEDIA_BYTES = 4096


@dataclass
class Library:
    media: Path  # the media path: folders of symlinks
    store: Path  # where the link targets live (the "mount")
    healthy: list[Path] = field(default_factory=list)
    broken: list[Path] = field(default_factory=list)
    small: list[Path] = field(default_factory=list)
    sidecars: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[Path]:
        return self.broken + self.small


def build_library(root: Path, shows: int = 3, episodes: int = 4, broken_every: int = 3,
                  small_every: int = 5) -> Library:
    """``media/<Show>/Season 1/<episode>.mkv`` links into ``store/``; some targets missing
    (BROKEN), some tiny (SMALL_FILE), plus a small ``.nfo`` sidecar per show (never a problem)."""
    library = Library(root / "media", root / "store")
    index = 0
    for s in range(shows):
        show = f"Show {s + 1}"
        season = library.media / show / "Season 1"
        season.mkdir(parents=True)
        (library.store / show).mkdir(parents=True)
        for e in range(episodes):
            index += 1
            target = library.store / show / f"E{e + 1:02d}.mkv"
            link = season / f"{show} - S01E{e + 1:02d}.mkv"
            if index % broken_every == 0:
                library.broken.append(link)  # target never created
            elif index % small_every == 0:
                target.write_bytes(b"x" * 100)
                library.small.append(link)
            else:
                with open(target, "wb") as handle:
                    handle.truncate(MEDIA_BYTES)
                    handle.seek(0)
                    handle.write(b"\x1a\x45\xdf\xa3" + b"\0" * 1020)
                library.healthy.append(link)
            os.symlink(target, link)
        nfo_target = library.store / show / "tvshow.nfo"
        nfo_target.write_text("<tvshow/>")
        nfo = library.media / show / "tvshow.nfo"
        os.symlink(nfo_target, nfo)
        library.sidecars.append(nfo)
    return library
