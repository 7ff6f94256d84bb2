"""The mass-deletion guard (:func:`deletion_guard`): how many deletions may go ahead
without an override. Apart from :mod:`.deletion`, which re-exports it, so that the CLI
shows its defaults and applies it to a dry run without importing the deletion code."""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_COUNT = 500
DEFAULT_MAX_SHARE = 0.20
DEFAULT_SHARE_MIN_COUNT = 20  # below this many, the share rule does not apply


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    count: int
    scanned: int
    reason: str | None = None


def deletion_guard(
    count: int,
    scanned: int,
    *,
    max_count: int = DEFAULT_MAX_COUNT,
    max_share: float = DEFAULT_MAX_SHARE,
    share_min_count: int = DEFAULT_SHARE_MIN_COUNT,
    override: bool = False,
) -> GuardDecision:
    """May ``count`` deletions out of ``scanned`` links go ahead without an override?"""
    share = count / scanned if scanned else 1.0
    reason = None
    if count > max_count:
        reason = f"{count} deletions exceed the limit of {max_count}"
    elif count >= share_min_count and share > max_share:
        reason = f"{count} deletions are {share:.0%} of {scanned} scanned links (limit {max_share:.0%})"
    if reason and override:
        return GuardDecision(True, count, scanned, f"override: {reason}")
    return GuardDecision(reason is None, count, scanned, reason)
