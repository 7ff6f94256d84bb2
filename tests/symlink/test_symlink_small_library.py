"""A small library (or a first scan of one folder) whose only links are broken: an empty
local folder that lost its content after the links were made is a lost release (BROKEN,
deleted in real mode, journaled), while an unmounted or empty mount stays "cannot tell"
(UNKNOWN, nothing deleted). Real local trees, the real CLI, a real rclone FUSE mount."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.plugins.symlink.cli import symlink_cli
from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.schema import sqlite_file


def scan(paths):
    problems = []
    result = run_scan(ScanOptions(paths=[str(p) for p in paths]), on_problem=problems.append)
    return result, problems


def cli_real(library):
    return CliRunner(env={"COLUMNS": "400"}).invoke(
        symlink_cli, ["scan", str(library), "--mode", "real", "--yes"], catch_exceptions=False)


def journal(database_url: str) -> list[tuple[str, str]]:
    with sqlite3.connect(sqlite_file(database_url)) as db:
        return db.execute("SELECT path, state FROM symlink_deletions").fetchall()


def assert_looks_unmounted_and_kept(tree, link: Path, database_url: str) -> None:
    """The library's one link is UNKNOWN, the scan says a mount is down, real mode keeps it."""
    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert [(p.path, p.status) for p in problems] == [(str(link), "UNKNOWN")]
    assert "looks unmounted" in problems[0].reason and result.mount_down
    assert cli.exit_code == 4, cli.output
    assert os.path.islink(link) and journal(database_url) == []


def after_a_tick() -> None:
    time.sleep(0.05)  # directory times move in clock ticks: the removal must come after the link


@pytest.mark.parametrize("lost", ["release folder", "file"])
def test_the_only_link_of_a_library_into_a_folder_emptied_since_is_broken_and_deleted(tree, database_url, lost):
    """The user removed the one movie of a local store: the store is left empty."""
    target = tree.file("Movie (2020)/movie.mkv") if lost == "release folder" else tree.file("movie.mkv")
    link = tree.link("Movie (2020)/Movie (2020).mkv", target)
    (tree.targets / ".keep").unlink()
    after_a_tick()
    shutil.rmtree(target.parent) if lost == "release folder" else target.unlink()
    assert not any(tree.targets.iterdir())

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert [(p.path, p.status) for p in problems] == [(str(link), "BROKEN")]
    assert not result.mount_down and not any(m["was_down"] for m in result.mounts)
    assert cli.exit_code == 3, cli.output  # problems found, and dealt with
    assert "Deletion: 1 deleted" in cli.output and "not visible" not in cli.output
    assert not os.path.lexists(link)
    assert journal(database_url) == [(str(link), "deleted")]


@pytest.mark.parametrize("made", ["before the link", "after the link"])
def test_an_empty_folder_never_changed_since_it_was_made_looks_unmounted(tree, database_url, made):
    """An unmounted mount point on the local disk, no earlier scan remembered it: made by
    mkdir before the links (and untouched since), or after them (a new machine: the
    library copied over, the mount point made afterwards and not mounted yet)."""
    shutil.rmtree(tree.targets)
    if made == "before the link":
        tree.targets.mkdir()
        after_a_tick()
    link = tree.link("Movie/movie.mkv", tree.targets / "__all__" / "Movie.2020" / "movie.mkv")
    if made == "after the link":
        after_a_tick()
        tree.targets.mkdir()

    assert_looks_unmounted_and_kept(tree, link, database_url)


def test_several_entries_gone_from_an_emptied_folder_look_unmounted(tree, database_url):
    """Two releases gone and the folder empty: a whole tree, not one lost release."""
    links = [tree.link(f"Movie {r}/movie.mkv", tree.file(f"Movie.{r}/movie.mkv")) for r in (1, 2)]
    (tree.targets / ".keep").unlink()
    after_a_tick()
    for r in (1, 2):
        shutil.rmtree(tree.targets / f"Movie.{r}")

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert {p.status for p in problems} == {"UNKNOWN"} and len(problems) == 2
    assert all("looks unmounted" in p.reason for p in problems) and result.mount_down
    assert cli.exit_code == 4, cli.output
    assert all(os.path.islink(link) for link in links) and journal(database_url) == []


@pytest.fixture
def bind_mount(tmp_path):
    """``bound`` mounted (``mount --bind``) on ``mnt``, as a container sees the host's folder."""
    bound, mount_point = tmp_path / "host-zurg", tmp_path / "mnt"
    bound.mkdir()
    mount_point.mkdir()
    done = subprocess.run(["mount", "--bind", str(bound), str(mount_point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount --bind is not allowed here: {done.stderr.strip()}")
    yield bound, mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_a_bind_of_an_empty_host_folder_never_changed_looks_unmounted(bind_mount, tree, database_url):
    """A container binds the host's /mnt/zurg while the host's rclone is down: the bind is a
    mount point (ext4), empty, and the host folder was not changed since it was made."""
    _, mount_point = bind_mount
    after_a_tick()
    link = tree.link("Movie/movie.mkv", mount_point / "__all__" / "Movie.2020" / "movie.mkv")

    assert_looks_unmounted_and_kept(tree, link, database_url)


def test_the_one_release_removed_from_a_bound_local_store_is_broken(bind_mount, tree, database_url):
    bound, mount_point = bind_mount
    (bound / "Movie.2020").mkdir()
    (bound / "Movie.2020" / "movie.mkv").write_bytes(b"\x1a" * 4096)
    link = tree.link("Movie/movie.mkv", mount_point / "Movie.2020" / "movie.mkv")
    after_a_tick()
    shutil.rmtree(bound / "Movie.2020")

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert [(p.path, p.status) for p in problems] == [(str(link), "BROKEN")]
    assert not result.mount_down and cli.exit_code == 3, cli.output
    assert journal(database_url) == [(str(link), "deleted")]


# ----------------------------------------------------------------------------- real rclone mount


def _library_into_one_release(mount, tree):
    """The mount serves two releases; the library links only the episodes of one."""
    for release in ("Other.2021", "Gone.2020"):
        for e in (1, 2):
            remote = mount.remote_root / "__all__" / release / f"e{e}.mkv"
            remote.parent.mkdir(parents=True, exist_ok=True)
            remote.write_bytes(b"\x42" * 8192)
    return [tree.link(f"Gone/Gone - E0{e}.mkv", mount.mount_point / "__all__" / "Gone.2020" / f"e{e}.mkv")
            for e in (1, 2)]


def _wait_gone(path: Path) -> None:
    for _ in range(100):  # rclone's directory cache (1 s in the tests)
        if not os.path.exists(path):
            return
        time.sleep(0.1)


@pytest.mark.fuse  # the rclone_mount fixture skips with the reason when FUSE is missing
def test_only_broken_links_into_a_release_gone_from_a_live_mount_are_deleted(rclone_mount, tree, database_url):
    links = _library_into_one_release(rclone_mount, tree)
    shutil.rmtree(rclone_mount.remote_root / "__all__" / "Gone.2020")
    _wait_gone(rclone_mount.mount_point / "__all__" / "Gone.2020")

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert {p.status for p in problems} == {"BROKEN"} and len(problems) == 2
    assert not result.mount_down
    assert cli.exit_code == 3, cli.output
    assert sorted(journal(database_url)) == sorted((str(link), "deleted") for link in links)
    assert not any(os.path.lexists(link) for link in links)


@pytest.mark.fuse  # the rclone_mount fixture skips with the reason when FUSE is missing
@pytest.mark.parametrize("state", ["mounted but empty", "unmounted"])
def test_only_broken_links_into_an_empty_or_unmounted_mount_are_unknown(rclone_mount, tree, database_url, state):
    links = _library_into_one_release(rclone_mount, tree)
    if state == "mounted but empty":
        shutil.rmtree(rclone_mount.remote_root / "__all__")
        _wait_gone(rclone_mount.mount_point / "__all__")
        assert os.path.ismount(rclone_mount.mount_point)
    else:
        rclone_mount.kill()
        rclone_mount.unmount()
        assert not os.path.ismount(rclone_mount.mount_point) and rclone_mount.mount_point.is_dir()

    result, problems = scan([tree.library])
    cli = cli_real(tree.library)

    assert {p.status for p in problems} == {"UNKNOWN"} and len(problems) == 2
    reason = "is mounted but empty" if state == "mounted but empty" else "looks unmounted"
    assert all(reason in p.reason for p in problems)
    assert result.mount_down
    assert any(m["mount_point"] == str(rclone_mount.mount_point) and m["was_down"] for m in result.mounts)
    assert cli.exit_code == 4, cli.output
    assert all(os.path.islink(link) for link in links) and journal(database_url) == []
