"""Repair by re-targeting, on real files: the index, proposals, the moved-mount plan, applying
(journal first, atomic, confined) and undoing."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit.plugins.symlink.engine.mounts import MountMonitor
from toolkit.plugins.symlink.engine.moved_mount import plan_prefix, rewrite_prefix
from toolkit.plugins.symlink.engine.retarget import (Change, build_index, propose, retarget_links, search_roots,
                                                     undo_retargets)
from toolkit.plugins.symlink.engine.walk import walk_links
from toolkit.plugins.symlink.models import SymlinkRetarget
from toolkit.plugins.symlink.service.retarget_journal import SqlRetargetJournal


class OrderCheckingJournal(SqlRetargetJournal):
    """Records what the link pointed at when its journal row was written."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.pointed_at_when_journaled: dict[str, str] = {}

    def record_pending(self, **fields):
        self.pointed_at_when_journaled[fields["path"]] = os.readlink(fields["path"])
        return super().record_pending(**fields)


def rows(engine) -> list[SymlinkRetarget]:
    with Session(engine) as session:
        return list(session.scalars(select(SymlinkRetarget).order_by(SymlinkRetarget.id)))


def renamed_release(tree, size: int = 4096) -> tuple[Path, Path, Path]:
    """A link into ``__all__/Show.S01.OLD/ep1.mkv``, the release folder renamed since."""
    old = tree.file("__all__/Show.S01.OLD/ep1.mkv", size)
    link = tree.link("tv/Show/Season 1/ep1.mkv", old)
    new_folder = tree.targets / "__all__" / "Show.S01.NEW"
    os.rename(old.parent, new_folder)
    return link, old, new_folder / "ep1.mkv"


def test_a_renamed_release_folder_gets_a_proposal_with_the_file_in_its_new_folder(tree):
    link, old, new = renamed_release(tree)
    monitor = MountMonitor()
    roots = search_roots([str(old)], monitor)
    assert list(roots) == [str(tree.targets / "__all__")]  # the nearest folder left of the old path
    index = build_index(roots, {"ep1.mkv"}, exclude=[str(tree.library)])
    proposal = propose(str(link), str(old), index, size=4096)
    assert (proposal.new_target, proposal.reason) == (str(new), "same name and size")


def test_a_file_of_the_same_name_but_another_size_is_not_proposed(tree):
    link, old, _new = renamed_release(tree, size=4096)
    index = build_index([str(tree.targets)], {"ep1.mkv"})
    proposal = propose(str(link), str(old), index, size=5000)
    assert proposal.new_target is None and proposal.reason == "1 file(s) named ep1.mkv, none of 5000 bytes"


def test_two_equal_candidates_are_told_apart_by_the_folders_they_share_else_nothing_is_proposed(tree):
    old = tree.targets / "__all__" / "Show" / "Season 1" / "ep1.mkv"
    link = tree.link("ep1.mkv", old)
    tree.file("__all__/Show.RENAMED/Season 1/ep1.mkv")
    tree.file("__all__/Other/Specials/ep1.mkv")
    index = build_index([str(tree.targets)], {"ep1.mkv"})
    assert propose(str(link), str(old), index).new_target == str(tree.targets / "__all__/Show.RENAMED/Season 1/ep1.mkv")
    tree.file("__all__/Show.COPY/Season 1/ep1.mkv")
    index = build_index([str(tree.targets)], {"ep1.mkv"})
    proposal = propose(str(link), str(old), index)
    assert proposal.new_target is None and proposal.reason == "2 files named ep1.mkv could be it"


def test_on_a_zurg_layout_the_copy_under_the_old_top_folder_is_proposed(tree):
    """zurg shows a torrent's files under __all__ and under shows/ (or movies/): same name,
    same size. The link pointed into __all__: its renamed folder there is the proposal."""
    old = tree.targets / "__all__" / "Show.S01.OLD" / "Show.S01E01.mkv"
    link = tree.link("Show/Season 1/Show.S01E01.mkv", old)
    for top in ("__all__", "shows"):
        tree.file(f"{top}/Show.S01.NEW/Show.S01E01.mkv", 4096)
    index = build_index([str(tree.targets)], {"Show.S01E01.mkv"})
    proposal = propose(str(link), str(old), index, size=4096)
    assert proposal.new_target == str(tree.targets / "__all__" / "Show.S01.NEW" / "Show.S01E01.mkv")
    assert proposal.candidates == 2


def test_a_relative_link_gets_a_relative_new_target(tree):
    old = tree.file("__all__/R.OLD/ep.mkv")
    link = tree.library / "ep.mkv"
    os.symlink(os.path.relpath(old, tree.library), link)
    os.rename(old.parent, tree.targets / "__all__" / "R.NEW")
    index = build_index([str(tree.targets)], {"ep.mkv"})
    proposal = propose(str(link), os.readlink(link), index)
    assert proposal.new_target == "../store/__all__/R.NEW/ep.mkv"


def test_the_index_stops_at_its_budget_and_says_so(tree):
    for n in range(30):
        tree.file(f"__all__/R{n}/x.mkv", 10)
    index = build_index([str(tree.targets)], {"x.mkv"}, max_entries=10)
    assert index.stopped == f"more than 10 entries under {tree.targets}"


def test_apply_journals_first_replaces_the_link_and_undo_restores_the_old_target(tree, engine):
    link, old, new = renamed_release(tree)
    journal = OrderCheckingJournal(engine)
    [outcome] = retarget_links([Change(str(link), str(old), str(new))], journal=journal, root=str(tree.library),
                               monitor=MountMonitor(), kind="proposal", batch="b1", scan_id="s1")
    assert (outcome.outcome, outcome.reason) == ("retargeted", None)
    assert os.readlink(link) == str(new) and link.read_bytes() == new.read_bytes()
    assert journal.pointed_at_when_journaled == {str(link): str(old)}
    [row] = rows(engine)
    assert (row.state, row.path, row.old_target, row.new_target, row.batch, row.kind) == (
        "retargeted", str(link), str(old), str(new), "b1", "proposal")
    assert [p.name for p in link.parent.iterdir()] == ["ep1.mkv"]  # no temporary link left behind

    [undone] = undo_retargets(journal.undoable(batch="b1"), journal=journal, root=str(tree.library))
    assert undone.outcome == "undone" and os.readlink(link) == str(old)
    assert rows(engine)[0].state == "undone" and journal.undoable(batch="b1") == []


def test_a_link_changed_since_the_plan_or_working_again_is_kept(tree, engine):
    link, old, new = renamed_release(tree)
    other = tree.link("b.mkv", tree.targets / "gone.mkv")
    os.unlink(other)
    os.symlink(tree.targets / "elsewhere.mkv", other)
    fine = tree.link("c.mkv", tree.file("c.mkv"))
    outcomes = retarget_links(
        [Change(str(other), str(tree.targets / "gone.mkv"), str(new)), Change(str(fine), str(tree.targets / "c.mkv"), str(new)),
         Change(str(link), str(old), str(tree.targets / "nothing.mkv"))],
        journal=SqlRetargetJournal(engine), root=str(tree.library), monitor=MountMonitor(), kind="proposal", batch="b")
    assert [(o.outcome, o.reason) for o in outcomes] == [
        ("skipped", "the link now points elsewhere"), ("skipped", "the link works again"),
        ("skipped", "the new target is not there: No such file or directory")]
    assert rows(engine) == []  # nothing was journaled: nothing was about to change


def test_a_folder_swapped_for_a_link_stops_the_retargeting(tree, engine):
    """After the plan, ``tv/Show`` becomes a link to another folder holding a link of the
    same name and target: it passes the path re-check, yet it is not under the library."""
    link, old, new = renamed_release(tree)
    other = tree.root / "other" / "Season 1"
    other.mkdir(parents=True)
    os.symlink(old, other / "ep1.mkv")
    os.unlink(link)
    os.rmdir(link.parent)
    os.rmdir(link.parent.parent)
    os.symlink(other.parent, tree.library / "tv" / "Show")

    [outcome] = retarget_links([Change(str(link), str(old), str(new))], journal=SqlRetargetJournal(engine),
                               root=str(tree.library), monitor=MountMonitor(), kind="proposal", batch="b")

    assert (outcome.outcome, outcome.reason) == (
        "skipped", f"{tree.library}/tv/Show is not a real folder under {tree.library} (a link or a file took its place)")
    assert os.readlink(other / "ep1.mkv") == str(old)  # the other folder's link is untouched
    assert [(r.state, r.error) for r in rows(engine)] == [("skipped", outcome.reason)]


def test_rewrite_prefix_replaces_whole_folders_only():
    assert rewrite_prefix("/mnt/zurg/__all__/a/b.mkv", "/mnt/zurg/__all__", "/mnt/remote/__all__") == \
        "/mnt/remote/__all__/a/b.mkv"
    assert rewrite_prefix("/mnt/zurg2/__all__/a.mkv", "/mnt/zurg", "/mnt/remote") is None
    assert rewrite_prefix("/mnt/zurg", "/mnt/zurg/", "/mnt/remote") == "/mnt/remote"


def test_a_moved_mount_plan_counts_only_links_whose_new_target_exists(tree, engine):
    old_mount, new_mount = tree.root / "zurg" / "__all__", tree.targets / "__all__"
    moved = []
    for n in range(3):
        tree.file(f"__all__/R{n}/e.mkv")
        moved.append(tree.link(f"tv/R{n}.mkv", old_mount / f"R{n}" / "e.mkv"))
    lost = tree.link("tv/lost.mkv", old_mount / "Lost" / "e.mkv")  # not on the new mount either
    unrelated = tree.link("tv/local.mkv", tree.file("local.mkv"))

    plan = plan_prefix(walk_links([str(tree.library)]), str(old_mount), str(new_mount))

    assert (plan.examined, plan.matching, len(plan.changes), plan.missing) == (5, 4, 3, 1)
    assert plan.missing_sample == [str(lost)]
    assert sorted((c.path, c.new_target) for c in plan.changes) == sorted(
        (str(link), str(new_mount / f"R{n}" / "e.mkv")) for n, link in enumerate(moved))
    outcomes = retarget_links(plan.changes, journal=SqlRetargetJournal(engine), root=str(tree.library),
                              monitor=MountMonitor(), kind="prefix", batch="p", require_broken=False)
    assert [o.outcome for o in outcomes] == ["retargeted"] * 3
    assert all(os.readlink(link) == str(new_mount / f"R{n}" / "e.mkv") for n, link in enumerate(moved))
    assert os.readlink(lost) == str(old_mount / "Lost" / "e.mkv") and os.readlink(unrelated) == str(
        tree.targets / "local.mkv")


@pytest.mark.fuse
def test_on_an_rclone_mount_the_renamed_release_is_found_and_apply_refuses_once_the_mount_is_down(
        rclone_mount, tree, engine):
    remote = rclone_mount.remote_root / "__all__"
    (remote / "Movie.2020.OLD").mkdir(parents=True)
    (remote / "Movie.2020.OLD" / "movie.mkv").write_bytes(b"\x42" * 8192)
    (remote / "Other").mkdir()
    (remote / "Other" / "other.mkv").write_bytes(b"\x42" * 100)
    old = rclone_mount.mount_point / "__all__" / "Movie.2020.OLD" / "movie.mkv"
    link = tree.link("movies/movie.mkv", old)
    os.rename(remote / "Movie.2020.OLD", remote / "Movie.2020.NEW")
    deadline = time.monotonic() + 15
    while os.path.exists(old) and time.monotonic() < deadline:
        time.sleep(0.2)  # rclone's directory cache forgets the old name
    assert not os.path.exists(old)

    monitor = MountMonitor()
    roots = search_roots([str(old)], monitor)
    assert list(roots) == [str(rclone_mount.mount_point)]  # the whole mount: zurg shows a file in several folders
    proposal = propose(str(link), str(old), build_index(roots, {"movie.mkv"}), size=8192)
    new = rclone_mount.mount_point / "__all__" / "Movie.2020.NEW" / "movie.mkv"
    assert proposal.new_target == str(new)

    rclone_mount.kill()
    [outcome] = retarget_links([proposal.change()], journal=SqlRetargetJournal(engine), root=str(tree.library),
                               monitor=MountMonitor(timeout=2), kind="proposal", batch="b")
    assert outcome.outcome == "skipped" and outcome.reason.startswith(
        f"the new target's mount {rclone_mount.mount_point} is down")
    assert os.readlink(link) == str(old) and rows(engine) == []


def test_the_cli_previews_a_moved_mount_then_applies_and_undoes_it(tree, database_url):
    import json as jsonlib

    from click.testing import CliRunner

    from toolkit.plugins.symlink.cli import symlink_cli

    def run(*arguments):
        return CliRunner(env={"COLUMNS": "400"}).invoke(symlink_cli, ["retarget", *arguments],
                                                        catch_exceptions=False)

    old_mount = tree.root / "zurg"
    links = [tree.link(f"m{n}.mkv", old_mount / f"R{n}" / "m.mkv") for n in range(2)]
    for n in range(2):
        tree.file(f"R{n}/m.mkv")
    lost = tree.link("lost.mkv", old_mount / "Lost" / "m.mkv")
    common = ["--from", str(old_mount), "--to", str(tree.targets), "--root", str(tree.library)]

    preview = run(*common)
    assert preview.exit_code == 2, preview.output
    assert (f"2 link(s) would be re-pointed from {old_mount} to {tree.targets}; 1 more point under {old_mount} "
            f"but their file is not under {tree.targets} (left alone).") in preview.output
    assert all(os.readlink(link).startswith(str(old_mount)) for link in links)

    applied = run(*common, "--apply", "--json")
    assert applied.exit_code == 0, applied.output
    report = jsonlib.loads(applied.output)
    assert report["counts"] == {"retargeted": 2}
    assert all(os.readlink(link) == str(tree.targets / f"R{n}" / "m.mkv") for n, link in enumerate(links))
    assert os.readlink(lost) == str(old_mount / "Lost" / "m.mkv")

    undone = run("--undo", report["batch"], "--root", str(tree.library))
    assert undone.exit_code == 0 and "2 undone" in undone.output
    assert all(os.readlink(link) == str(old_mount / f"R{n}" / "m.mkv") for n, link in enumerate(links))


def test_a_library_that_stops_answering_stops_the_moved_mount_plan(tree, monkeypatch):
    """The links are read a batch at a time under a deadline: a library folder on a
    filesystem that hangs ends the plan with the reason instead of hanging it."""
    import threading

    from toolkit.plugins.symlink.engine import moved_mount

    release = threading.Event()
    link = tree.link("a.mkv", tree.root / "zurg" / "a.mkv")
    monkeypatch.setattr(moved_mount, "_readlinks", lambda batch: release.wait(5) and [])  # blocked in the kernel
    try:
        plan = plan_prefix(iter([str(link)]), str(tree.root / "zurg"), str(tree.targets), fs_timeout=0.2)
    finally:
        release.set()
    assert plan.stopped == "the library did not answer within 0.2s" and plan.changes == []


def test_the_cli_finds_the_moved_files_of_broken_links_and_re_points_them(tree, database_url, monkeypatch):
    import json as jsonlib

    from click.testing import CliRunner

    from toolkit.plugins.symlink.cli import symlink_cli

    def run(*arguments):
        return CliRunner(env={"COLUMNS": "400"}).invoke(symlink_cli, ["retarget", "--find-moved", "--root",
                                                                      str(tree.library), *arguments],
                                                        catch_exceptions=False)

    link, old, new = renamed_release(tree)
    lost = tree.link("lost.mkv", tree.targets / "__all__" / "Gone" / "lost.mkv")
    fine = tree.link("fine.mkv", tree.file("fine.mkv"))

    preview = run()
    assert preview.exit_code == 2, preview.output
    assert "1 of 2 broken link(s) have their file elsewhere on the mount." in preview.output
    assert f"re-point {link}: {old} -> {new} (same name (the old size is not known))" in preview.output
    assert f"no new place for {lost}: no file named lost.mkv" in preview.output
    assert os.readlink(link) == str(old)

    applied = run("--apply", "--json")
    assert applied.exit_code == 0, applied.output
    assert jsonlib.loads(applied.output)["counts"] == {"retargeted": 1}
    assert os.readlink(link) == str(new) and os.readlink(fine) == str(tree.targets / "fine.mkv")
    assert os.readlink(lost) == str(tree.targets / "__all__" / "Gone" / "lost.mkv")
    assert CliRunner().invoke(symlink_cli, ["retarget", "--find-moved", "--from", "/x"]).exit_code == 2  # one or the other

    # without --root: the media path of the settings
    os.rename(new.parent, tree.targets / "__all__" / "Show.S01.NEWER")
    monkeypatch.setenv("TOOLKIT_SYMLINK__MEDIA_PATH", str(tree.library))
    again = CliRunner(env={"COLUMNS": "400"}).invoke(symlink_cli, ["retarget", "--find-moved", "--apply"],
                                                     catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert os.readlink(link) == str(tree.targets / "__all__" / "Show.S01.NEWER" / "ep1.mkv")
