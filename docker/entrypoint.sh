#!/bin/sh
# Run as PUID:PGID (files in /app/data and the deleted links' folders keep the user's owner),
# with the group of the Docker socket when one is mounted (service auto-detection).
set -e
PUID=${PUID:-1000}
PGID=${PGID:-1000}
if [ "$(id -u)" != 0 ]; then exec "$@"; fi
chown "$PUID:$PGID" /app/data 2>/dev/null || true
groups="$PGID"
if [ -S /var/run/docker.sock ]; then
  groups="$groups,$(stat -c %g /var/run/docker.sock)"
fi
exec setpriv --reuid="$PUID" --regid="$PGID" --groups="$groups" --inh-caps=-all "$@"
