"""Settings of the ``queue`` namespace (``TOOLKIT_QUEUE__<FIELD>`` overrides any of them)."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Action = Literal["ignore", "remove", "remove_client", "blocklist", "blocklist_search"]
ACTIONS: dict[str, str] = {
    "ignore": "leave it (listed only)",
    "remove": "remove from the queue, keep in the download client",
    "remove_client": "remove from the queue and the download client",
    "blocklist": "remove from the client and blocklist the release",
    "blocklist_search": "blocklist, then search exactly the affected episodes/movie",
}
#: built-in rules, in the order they are tried, with what each one means
RULES: dict[str, str] = {
    "failed": "the download failed",
    "debrid_error": "the (debrid) download client reports an error",
    "missing_files": "import blocked: no files eligible for import",
    "import_blocked": "import blocked or failed for another reason",
    "metadata_stuck": "stuck downloading the torrent's metadata",
    "stalled": "no progress across checks",
    "slow": "slower than the minimum speed",
    "unmonitored": "the episode or movie is not monitored",
    "unknown_item": "not matched to a series or movie",
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
                         description="Consecutive checks in the same problem state before acting")
    min_age: int = Field(60, ge=0, le=10080,
                         description="Minutes since the item was added before acting")
    max_removals_per_run: int = Field(10, ge=0, le=1000,
                                      description="Most items removed per *arr and run")
    max_searches_per_run: int = Field(10, ge=0, le=1000,
                                      description="Most searches sent per *arr and run")
    search_pace_seconds: float = Field(2.0, ge=0, le=120,
                                       description="Pause between two searches")
    slow_below_kbps: int = Field(20, ge=0, le=1_000_000,
                                 description="A download slower than this (KiB/s) is slow; 0: off")
    protected_tags: str = Field("", max_length=2000,
                                description="Comma-separated tag labels: never touched")
    protected_download_ids: str = Field("", max_length=20000,
                                        description="Comma-separated download ids: never touched")
    apply_scheduled: bool = Field(False,
                                  description="Scheduled checks apply their plan (else plan only)")
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
        description="Your rules on messages, tried before the built-in message rules")

    def action_for(self, rule: str) -> str:
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
