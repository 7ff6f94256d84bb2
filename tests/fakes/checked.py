"""The body of a fixture that starts contract-checking fakes for one test."""
from __future__ import annotations

from typing import Any, Callable, Iterator


def checked_fakes(start: Callable[..., Any], contract: str) -> Iterator[Callable[..., Any]]:
    """Yields ``make(...)``, which starts a fake with ``start(...)`` and keeps it; on teardown
    stops them all and fails the test if any request left ``contract``. Use it as
    ``yield from checked_fakes(...)`` in a fixture."""
    started: list = []

    def make(*args, **kwargs):
        fake = start(*args, **kwargs)
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()
    violations = [v for fake in started for v in fake.violations]
    assert not violations, f"requests off {contract}:\n" + "\n".join(violations)
