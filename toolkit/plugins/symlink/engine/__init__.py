"""The symlink engine: blocking, pure checks of links and media, deletion and the
SQLite store the command line uses. Imports no web, job or async-session code."""
