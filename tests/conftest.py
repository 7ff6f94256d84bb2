"""Shared test setup. The toolkit's own fixtures (toolkit_app, toolkit_client, toolkit_server,
browser_page...) come from ``toolkit.testing`` through its pytest11 entry point."""
import logging

logging.getLogger("alembic").setLevel(logging.WARNING)
