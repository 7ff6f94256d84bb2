"""The symlink checker: finds broken, unreadable, truncated and corrupted media links."""
