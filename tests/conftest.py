"""Shared test setup. The toolkit's own fixtures (toolkit_app, toolkit_client, toolkit_server,
browser_page...) come from ``toolkit.testing`` through its pytest11 entry point."""
import logging

import pytest

from fakes.inbox import Inbox  # tests/ is on the path (pytest's pythonpath setting)

logging.getLogger("alembic").setLevel(logging.WARNING)


@pytest.fixture
def inbox():
    """A webhook inbox on 127.0.0.1 for Apprise's ``json://`` URL (notification tests)."""
    box = Inbox()
    yield box
    box.close()
