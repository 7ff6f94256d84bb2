"""Guard, journal-before-unlink, re-check before deletion, restore."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolkit.plugins.symlink.engine.checker import Problem, ScanOptions, run_scan
from toolkit.plugins.symlink.engine.deletion import delete_problems, restore
from toolkit.plugins.symlink.engine.guard import deletion_guard
from toolkit.plugins.symlink.store import DeletionJournal


def scan_problems(path: Path) -> list[Problem]:
    problems: list[Problem] = []
    run_scan(ScanOptions(paths=[str(path)]), on_problem=problems.append)
    return problems


class OrderCheckingJournal(DeletionJournal):
    """Records whether the link still existed when its journal row was written."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.link_existed_when_journaled: dict[str, bool] = {}

    def record_pending(self, **fields):
        self.link_existed_when_journaled[fields["path"]] = os.path.lexists(fields["path"])
        return super().record_pending(**fields)


@pytest.mark.parametrize(
    ("count", "scanned", "allowed"),
    [(0, 0, True), (5, 6, True), (19, 20, True), (20, 40, False), (20, 100, True), (501, 100_000, False),
     (500, 100_000, True)],
)
def test_guard_limits_count_and_share(count, scanned, allowed):
    assert deletion_guard(count, scanned).allowed is allowed


def test_guard_override_allows_and_says_why():
    decision = deletion_guard(1000, 1000, override=True)
    assert decision.allowed and decision.reason.startswith("override:")


def test_broken_links_are_deleted_after_journaling_and_targets_kept(tree, engine):
    kept_target = tree.file("small.mkv", 10)
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    tree.link("small.mkv", kept_target)
    tree.link("fine.mkv", tree.file("fine.mkv"))
    journal = OrderCheckingJournal(engine)

    outcomes = delete_problems(scan_problems(tree.library), journal=journal, scan_id="scan-1")

    assert {Path(o.path).name: o.outcome for o in outcomes} == {"broken.mkv": "deleted", "small.mkv": "deleted"}
    assert journal.link_existed_when_journaled == {str(tree.library / "broken.mkv"): True,
                                                   str(tree.library / "small.mkv"): True}
    assert not os.path.lexists(tree.library / "broken.mkv")
    assert kept_target.exists() and os.path.islink(tree.library / "fine.mkv")
    rows = journal.entries(scan_id="scan-1")
    assert {(Path(r.path).name, r.status, r.state) for r in rows} == {
        ("broken.mkv", "BROKEN", "deleted"), ("small.mkv", "SMALL_FILE", "deleted")}
    assert all(r.deleted_at >= r.journaled_at for r in rows)


def test_items_that_changed_since_the_scan_are_kept(tree, engine):
    repaired = tree.link("repaired.mkv", tree.targets / "later.mkv")
    repointed = tree.link("repointed.mkv", tree.targets / "gone.mkv")
    replaced = tree.link("replaced.mkv", tree.targets / "gone2.mkv")
    problems = scan_problems(tree.library)
    tree.file("later.mkv")  # the file came back
    os.unlink(repointed)
    os.symlink(tree.targets / "elsewhere.mkv", repointed)
    os.unlink(replaced)
    replaced.write_bytes(b"a real file now")

    outcomes = delete_problems(problems, journal=DeletionJournal(engine), scan_id="s")

    reasons = {Path(o.path).name: (o.outcome, o.reason) for o in outcomes}
    assert reasons == {
        "repaired.mkv": ("skipped", "the link is fine now"),
        "repointed.mkv": ("skipped", "the link now points elsewhere"),
        "replaced.mkv": ("skipped", "no longer a symlink"),
    }
    assert os.path.islink(repaired) and os.path.islink(repointed) and replaced.is_file()
    assert DeletionJournal(engine).entries() == []


def test_unknown_and_error_are_never_deleted(tree, engine):
    link = tree.link("u.mkv", tree.targets / "x.mkv")
    problems = [Problem(str(link), str(tree.targets / "x.mkv"), "UNKNOWN", 1, 0, "mount down"),
                Problem(str(link), str(tree.targets / "x.mkv"), "ERROR", 1, 0, "boom")]
    outcomes = delete_problems(problems, journal=DeletionJournal(engine), scan_id=None)
    assert [o.outcome for o in outcomes] == ["skipped", "skipped"]
    assert os.path.islink(link)


def test_nothing_is_deleted_under_an_expected_mount_that_went_away(tree, engine):
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    problems = scan_problems(tree.library)
    options = ScanOptions(paths=[str(tree.library)], expected_mounts=[str(tree.targets)])

    outcomes = delete_problems(problems, journal=DeletionJournal(engine), scan_id=None, options=options)

    assert outcomes[0].outcome == "skipped" and "down" in outcomes[0].reason
    assert os.path.islink(tree.library / "broken.mkv")


def test_abort_stops_before_the_next_item(tree, engine):
    for index in range(5):
        tree.link(f"b{index}.mkv", tree.targets / f"gone{index}.mkv")
    done = []
    outcomes = delete_problems(scan_problems(tree.library), journal=DeletionJournal(engine), scan_id=None,
                               should_abort=lambda: len(done) >= 2, on_outcome=done.append)
    assert len(outcomes) == 2
    assert sum(os.path.islink(tree.library / f"b{i}.mkv") for i in range(5)) == 3


def test_restore_recreates_links_and_leaves_occupied_paths_alone(tree, engine):
    tree.link("Show/Season 1/a.mkv", tree.targets / "gone-a.mkv")
    tree.link("b.mkv", tree.targets / "gone-b.mkv")
    journal = DeletionJournal(engine)
    delete_problems(scan_problems(tree.library), journal=journal, scan_id="scan-9")
    (tree.library / "Show").rename(tree.root / "moved-away")  # the *arr removed the folder
    (tree.library / "b.mkv").write_text("something else took the name")

    preview = restore(journal, scan_id="scan-9", dry_run=True)
    outcomes = restore(journal, scan_id="scan-9")

    assert sorted(o.outcome for o in preview) == ["skipped", "would-restore"]
    assert {Path(o.path).name: o.outcome for o in outcomes} == {"a.mkv": "restored", "b.mkv": "skipped"}
    assert os.readlink(tree.library / "Show" / "Season 1" / "a.mkv") == str(tree.targets / "gone-a.mkv")
    states = {Path(e.path).name: e.state for e in journal.entries(scan_id="scan-9")}
    assert states == {"a.mkv": "restored", "b.mkv": "deleted"}
    again = restore(journal, scan_id="scan-9")
    assert [(Path(o.path).name, o.outcome) for o in again] == [("b.mkv", "skipped")]


def test_restore_needs_a_selection(engine):
    with pytest.raises(ValueError):
        restore(DeletionJournal(engine))


def test_a_folder_swapped_for_a_link_stops_the_deletion(tree, engine):
    """After the scan, ``tv/Show`` becomes a link to another folder holding a link of the same
    name and target: it passes every path-based re-check, yet it is not under the library."""
    tree.link("tv/Show/ep3.mkv", tree.targets / "gone.mkv")
    problems = scan_problems(tree.library)
    other = tree.root / "other"
    other.mkdir()
    os.symlink(tree.targets / "gone.mkv", other / "ep3.mkv")
    os.unlink(tree.library / "tv" / "Show" / "ep3.mkv")
    (tree.library / "tv" / "Show").rmdir()
    os.symlink(other, tree.library / "tv" / "Show")
    journal = DeletionJournal(engine)

    outcomes = delete_problems(problems, journal=journal, scan_id="s", root=str(tree.library))

    assert [(o.outcome, o.reason) for o in outcomes] == [
        ("skipped", f"{tree.library}/tv/Show is not a real folder under {tree.library} "
                    "(a link or a file took its place)")]
    assert os.path.islink(other / "ep3.mkv")
    [entry] = journal.entries(scan_id="s")
    assert (entry.state, entry.error) == ("skipped", outcomes[0].reason)


def test_a_link_outside_the_root_is_never_deleted(tree, engine):
    link = tree.link("broken.mkv", tree.targets / "gone.mkv")
    outcomes = delete_problems(scan_problems(tree.library), journal=DeletionJournal(engine), scan_id="s",
                               root=str(tree.root / "elsewhere"))
    assert [(o.outcome, o.reason) for o in outcomes] == [("skipped", f"outside {tree.root / 'elsewhere'}")]
    assert os.path.islink(link)


def test_restore_never_follows_a_folder_swapped_for_a_link(tree, engine):
    tree.link("tv/Show/ep3.mkv", tree.targets / "gone.mkv")
    journal = DeletionJournal(engine)
    delete_problems(scan_problems(tree.library), journal=journal, scan_id="s", root=str(tree.library))
    other = tree.root / "other"
    other.mkdir()
    (tree.library / "tv" / "Show").rmdir()
    os.symlink(other, tree.library / "tv" / "Show")

    [outcome] = restore(journal, scan_id="s", root=str(tree.library))

    assert outcome.outcome == "skipped" and "tv/Show is not a real folder" in outcome.reason
    assert list(other.iterdir()) == []
