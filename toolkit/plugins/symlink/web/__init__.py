"""The symlink plugin's web part: JSON API routes, HTMX pages, templates and static files."""
