"""A targets' mount that is not visible (missing folder, empty root, unmounted known mount)
is "cannot tell" at the scan level, never a library of BROKEN links; a real debrid
breakage (one release folder gone) stays BROKEN. Local trees and a real rclone mount."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.cli import symlink_cli
from toolkit.plugins.symlink.mount_memory import SqlMountMemory


def scan(paths, mount_memory=None, **options):
    problems = []
    result = run_scan(ScanOptions(paths=[str(p) for p in paths], **options), on_problem=problems.append,
                      mount_memory=mount_memory)
    return result, problems


def cli_real(library):
    return CliRunner(env={"COLUMNS": "400"}).invoke(
        symlink_cli, ["scan", str(library), "--mode", "real", "--yes", "--force"], catch_exceptions=False)


def zurg_library(tree, zurg: Path, releases: int = 12, episodes: int = 3) -> list[Path]:
    """A TV library whose links point into zurg's layout: ``__all__/<release>/<file>``."""
    links = []
    for r in range(releases):
        for e in range(1, episodes + 1):
            name = f"Show {r}/Season 01/Show {r} - S01E{e:02d}.mkv"
            links.append(tree.link(name, zurg / "__all__" / f"Show.{r}.S01.1080p" / f"show.{r}.s01e{e:02d}.mkv"))
    return links


def test_targets_mount_folder_missing_is_not_visible_and_real_mode_deletes_nothing(tree, database_url):
    """A container without the rclone bind: /data exists (other folders in it), /data/zurg not."""
    data = tree.root / "data"
    (data / "config").mkdir(parents=True)
    links = zurg_library(tree, data / "zurg")

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert {p.status for p in problems} == {"UNKNOWN"} and len(problems) == len(links)
    assert result.statistics["phase1_broken"] == 0 and result.statistics["phase1_unknown"] == len(links)
    assert all(f"{data / 'zurg'} does not exist" in p.reason and "not visible" in p.reason for p in problems)
    assert result.mount_down
    finding = next(m for m in result.mounts if m["mount_point"] == str(data / "zurg"))
    assert finding["was_down"] and not finding["healthy"] and "not visible" in finding["reason"]
    assert cli.exit_code == 4, cli.output
    assert "not visible" in cli.output
    assert all(os.path.islink(link) for link in links)


def test_one_release_folder_gone_in_a_realistic_library_stays_broken(tree):
    """The real debrid breakage: one torrent folder disappears, the rest answer."""
    store = tree.targets / "zurg"
    links = zurg_library(tree, store)
    for link in links:
        target = Path(os.readlink(link))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"\x1a" * 4096)
    shutil.rmtree(store / "__all__" / "Show.5.S01.1080p")

    result, problems = scan([tree.library])

    assert sorted(Path(p.path).name for p in problems) == [f"Show 5 - S01E0{e}.mkv" for e in (1, 2, 3)]
    assert {p.status for p in problems} == {"BROKEN"}
    assert not result.mount_down and result.statistics["phase1_ok"] == len(links) - 3


def test_a_library_whose_releases_all_vanished_from_a_present_folder_is_not_visible(tree):
    """Most links point under missing folders of one parent: the mount is not there."""
    links = zurg_library(tree, tree.targets / "zurg")
    (tree.targets / "zurg").mkdir()
    (tree.targets / "zurg" / "unrelated.txt").write_text("x")  # not empty: not the "looks unmounted" rule

    result, problems = scan([tree.library])

    assert {p.status for p in problems} == {"UNKNOWN"} and len(problems) == len(links)
    assert result.mount_down


def test_empty_target_root_is_a_scan_level_finding(tree, database_url):
    for name in ("a.mkv", "b.mkv"):
        tree.link(name, tree.targets / name)
    (tree.targets / ".keep").unlink()  # the target root is empty: what an unmounted mount point looks like

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert {p.status for p in problems} == {"UNKNOWN"}
    assert result.mount_down
    finding = next(m for m in result.mounts if m["mount_point"] == str(tree.targets))
    assert finding["was_down"] and "looks unmounted" in finding["reason"]
    assert cli.exit_code == 4, cli.output
    assert os.path.islink(tree.library / "a.mkv") and os.path.islink(tree.library / "b.mkv")


def test_a_missing_file_next_to_healthy_ones_is_broken_and_not_a_finding(tree):
    tree.link("ok.mkv", tree.file("ok.mkv"))
    tree.link("gone.mkv", tree.targets / "gone.mkv")

    result, problems = scan([tree.library])

    assert [(Path(p.path).name, p.status) for p in problems] == [("gone.mkv", "BROKEN")]
    assert not result.mount_down


# ----------------------------------------------------------------------------- real rclone mount


def _populate_releases(mount, tree, releases: int = 4):
    for r in range(releases):
        name = f"Movie {r} (2020).mkv"
        remote = mount.remote_root / "__all__" / f"Movie.{r}.2020.1080p" / f"movie.{r}.mkv"
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(b"\x42" * 8192)
        tree.link(f"Movie {r}/{name}", mount.mount_point / "__all__" / remote.parent.name / remote.name)


@pytest.mark.fuse  # the rclone_mount fixture skips with the reason when FUSE is missing
def test_a_release_folder_removed_on_the_server_is_broken(rclone_mount, tree):
    _populate_releases(rclone_mount, tree)
    shutil.rmtree(rclone_mount.remote_root / "__all__" / "Movie.0.2020.1080p")
    gone = rclone_mount.mount_point / "__all__" / "Movie.0.2020.1080p"
    for _ in range(100):  # rclone's directory cache (1 s in the tests)
        if not os.path.exists(gone):
            break
        time.sleep(0.1)

    result, problems = scan([tree.library])

    assert [(Path(p.path).name, p.status) for p in problems] == [("Movie 0 (2020).mkv", "BROKEN")]
    assert not result.mount_down


@pytest.mark.fuse  # the rclone_mount fixture skips with the reason when FUSE is missing
def test_a_known_mount_that_disappeared_is_not_visible(rclone_mount, tree, engine):
    _populate_releases(rclone_mount, tree)
    memory = SqlMountMemory(engine)
    first, _ = scan([tree.library], mount_memory=memory)
    assert not first.mount_down
    assert memory.known().keys() == {str(rclone_mount.mount_point)}
    assert memory.known()[str(rclone_mount.mount_point)].startswith("fuse.rclone answering on ")

    rclone_mount.kill()
    rclone_mount.unmount()
    os.rmdir(rclone_mount.mount_point)  # gone altogether, like a container without the bind

    without_memory, broken = scan([tree.library])
    result, problems = scan([tree.library], mount_memory=memory)

    assert {p.status for p in problems} == {"UNKNOWN"} and len(problems) == 4
    assert all(f"mount {rclone_mount.mount_point} is down" in p.reason for p in problems)
    assert result.mount_down
    finding = next(m for m in result.mounts if m["mount_point"] == str(rclone_mount.mount_point))
    assert finding["fstype"] == "known" and "earlier scans saw fuse.rclone" in finding["reason"]
    # without the memory the share rule alone still says "not visible" for this library
    assert {p.status for p in broken} == {"UNKNOWN"} and without_memory.mount_down


@pytest.mark.fuse  # the rclone_mount fixture skips with the reason when FUSE is missing
def test_a_library_folder_on_a_hung_mount_is_unknown_and_the_scan_finishes(rclone_mount, tree):
    (rclone_mount.remote_root / "library" / "Movie A").mkdir(parents=True)
    (rclone_mount.remote_root / "library" / "Movie A" / "a.mkv").write_bytes(b"\x42" * 8192)
    tree.link("local.mkv", tree.file("local.mkv"))
    rclone_mount.server.faults.latency = 3.0  # every WebDAV request; the walk's deadline is 0.5 s
    hung_library = rclone_mount.mount_point / "library"

    result, problems = scan([tree.library, hung_library], fs_timeout=0.5, mount_timeout=10)

    assert [(p.path, p.status) for p in problems] == [(str(hung_library), "UNKNOWN")]
    assert "did not answer within 0.5s" in problems[0].reason
    assert any(str(hung_library) in error and "no answer" in error for error in result.walk_errors)
    assert result.statistics["phase1_ok"] == 1


def test_the_watched_walk_finds_the_same_links_as_the_plain_walk(tree):
    from toolkit.plugins.symlink.engine.walk import walk_links

    for show in range(30):
        for episode in range(40):  # more than one hand-over batch in all
            tree.link(f"Show {show}/Season 1/e{episode}.mkv", tree.targets / "x.mkv")
    named_link = tree.link("single.mkv", tree.targets / "x.mkv")
    plain = sorted(walk_links([str(tree.library)]))

    watched = sorted(walk_links([str(tree.library), str(named_link)], deadline=5))

    assert len(plain) == 30 * 40 + 1
    assert watched == sorted(plain + [str(named_link)])
