"""The download-queue cleaner: Sonarr/Radarr queue items that stay in a problem state are
removed, blocklisted and searched again exactly, on a plan the user can review and undo.
Built only on :mod:`toolkit.api`."""
