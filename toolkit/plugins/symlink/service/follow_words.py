"""What a repair's follow-up says to a person (the pages, the CLI, the notifications), in
English and French."""
from __future__ import annotations

from toolkit.api import gettext as _, ngettext

MAX_TITLES = 5


def follow_text(follow: dict, hours: int) -> str:
    """One line: where the item is since Sonarr/Radarr were asked to search it."""
    state = follow["state"]
    if state == "repaired":
        return _("repaired: imported and its new link is healthy")
    if state == "missing":
        return ngettext("still missing after %(num)d hour", "still missing after %(num)d hours", hours)
    if state == "imported":
        return _("imported, but its new link is not healthy yet")
    if state == "grabbed":
        return _("grabbed, waiting for the import")
    return _("searching")


def follow_note(follow: dict) -> str | None:
    """Why the last look did not get further (an *arr that did not answer, a new link that
    failed its check)."""
    if not follow.get("check_error"):
        return None
    return _("last look: %(error)s", error=follow["check_error"])


def outcome_message(follows: list, hours: int) -> tuple[str, str]:
    """The title and body of one notification about these items (all repaired, or all
    still missing)."""
    titles = [f.title for f in follows[:MAX_TITLES]]
    more = len(follows) - len(titles)
    listed = ", ".join(titles) + (" " + _("(+%(n)s more)", n=more) if more > 0 else "")
    if follows[0].state == "repaired":
        title = ngettext("%(num)d item repaired", "%(num)d items repaired", len(follows))
        body = _("Sonarr/Radarr brought them back and their new links are healthy: %(items)s", items=listed)
    else:
        title = ngettext("%(num)d item still missing", "%(num)d items still missing", len(follows))
        body = ngettext("Searched after a deletion, not back after %(num)d hour: %(items)s",
                        "Searched after a deletion, not back after %(num)d hours: %(items)s", hours, items=listed)
    return title, body
