"""The symlink service layer: scans, deletions, schedules, history and notifications
for the web app and the job runner. No HTTP types."""
