"""Log capture that does not depend on propagation to the root logger.

The ROS wheels' pytest plugins (launch_testing, launch_pytest) import ``launch.logging``,
which makes every logger created afterwards stop propagating, so pytest's ``caplog`` misses
foir360's messages depending on import order. A handler on the logger itself always sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import BufferingHandler


@contextmanager
def captured(name: str) -> Iterator[list[str]]:
    """The messages logged to logger ``name`` inside the block (not its children: they
    may not propagate either)."""
    handler = BufferingHandler(10_000)
    messages: list[str] = []
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        messages.extend(record.getMessage() for record in handler.buffer)
