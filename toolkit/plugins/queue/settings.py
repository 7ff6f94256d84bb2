"""Settings of the ``queue`` namespace (``TOOLKIT_QUEUE__<FIELD>`` overrides any of them)."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toolkit.api import N_

Action = Literal["ignore", "remove", "remove_client", "blocklist", "blocklist_search"]
ACTIONS: dict[str, str] = {
    "ignore": N_("leave it (listed only)"),
    "remove": N_("remove from the queue, keep in the download client"),
    "remove_client": N_("remove from the queue and the download client"),
    "blocklist": N_("remove from the client and blocklist the release"),
    "blocklist_search": N_("blocklist, then search exactly the affected episodes/movie"),
}
#: built-in rules, in the order they are tried, with what each one means
RULES: dict[str, str] = {
    "failed": N_("the download failed"),
    "debrid_error": N_("the (debrid) download client reports an error"),
    "missing_files": N_("import blocked: no files eligible for import"),
    "import_blocked": N_("import blocked or failed for another reason"),
    "metadata_stuck": N_("stuck downloading the torrent's metadata"),
    "stalled": N_("no progress across checks"),
    "slow": N_("slower than the minimum speed"),
    "unmonitored": N_("the episode or movie is not monitored"),
    "unknown_item": N_("not matched to a series or movie"),
}


class MessageRule(BaseModel):
    """A user rule: a wildcard (``*`` and ``?``) or a regular expression matched, without
    regard to case, against the item's status and error messages (any language)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=60, pattern=r"^[\w .:-]+$")
    pattern: str = Field(..., min_length=1, max_length=500)
    regex: bool = False
    action: Action = "blocklist_search"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _valid_regex(self) -> "MessageRule":
        if self.regex:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return self


class QueueSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strikes: int = Field(3, ge=1, le=100,
                         description=N_("Consecutive checks in the same problem state before acting"))
    min_age: int = Field(60, ge=0, le=10080,
                         description=N_("Minutes since the item was added before acting"))
    max_removals_per_run: int = Field(10, ge=0, le=1000,
                                      description=N_("Most items removed per *arr and run"))
    max_searches_per_run: int = Field(10, ge=0, le=1000,
                                      description=N_("Most searches sent per *arr and run"))
    search_pace_seconds: float = Field(2.0, ge=0, le=120,
                                       description=N_("Pause between two searches"))
    slow_below_kbps: int = Field(20, ge=0, le=1_000_000,
                                 description=N_("A download slower than this (KiB/s) is slow; 0: off"))
    protected_tags: str = Field("", max_length=2000,
                                description=N_("Comma-separated tag labels: never touched"))
    protected_download_ids: str = Field("", max_length=20000,
                                        description=N_("Comma-separated download ids: never touched"))
    apply_scheduled: bool = Field(False,
                                  description=N_("Scheduled checks apply their plan (else plan only)"))
    action_failed: Action = "blocklist_search"
    action_debrid_error: Action = "blocklist_search"
    action_missing_files: Action = "blocklist_search"
    action_import_blocked: Action = "ignore"
    action_metadata_stuck: Action = "blocklist_search"
    action_stalled: Action = "blocklist"
    action_slow: Action = "blocklist"
    action_unmonitored: Action = "ignore"
    action_unknown_item: Action = "ignore"
    message_rules: list[MessageRule] = Field(
        default_factory=list, max_length=50,
        description=N_("Your rules on messages, tried before the built-in message rules"))

    def action_for(self, rule: str) -> str:
        """The action of a built-in rule or of the user's rule of that name."""
        custom = next((r for r in self.message_rules if r.name == rule), None)
        return custom.action if custom else getattr(self, f"action_{rule}")

    @staticmethod
    def _names(text: str) -> set[str]:
        return {part.strip().lower() for part in text.split(",") if part.strip()}

    @property
    def protected_tag_labels(self) -> set[str]:
        return self._names(self.protected_tags)

    @property
    def protected_ids(self) -> set[str]:
        return self._names(self.protected_download_ids)


#: the Rules form's labels
LABELS: dict[str, str] = {
    "strikes": N_("Strikes"), "min_age": N_("Minimum age (minutes)"),
    "max_removals_per_run": N_("Most removals per run"),
    "max_searches_per_run": N_("Most searches per run"),
    "search_pace_seconds": N_("Seconds between two searches"),
    "slow_below_kbps": N_("Slow below (KiB/s)"), "protected_tags": N_("Protected tags"),
    "protected_download_ids": N_("Protected download ids"),
    "apply_scheduled": N_("Scheduled checks apply their plan"),
    "action_failed": N_("When the download failed"),
    "action_debrid_error": N_("When the (debrid) download client reports an error"),
    "action_missing_files": N_("When no files are eligible for import"),
    "action_import_blocked": N_("When the import is blocked for another reason"),
    "action_metadata_stuck": N_("When the torrent's metadata never arrives"),
    "action_stalled": N_("When the download is stalled"),
    "action_slow": N_("When the download is slow"),
    "action_unmonitored": N_("When the episode or movie is not monitored"),
    "action_unknown_item": N_("When the download matches no series or movie"),
    "message_rules": N_("Message rules"),
}
