"""Test helpers: waiting on the state a test asserts (never on the clock), and reading the screen.

``pilot.pause()`` alone returns once the process looks idle, which a loaded
machine fakes (the process gets no CPU, so it "looks" idle while messages are
still queued).  These helpers wait for the things that produce state instead:
every worker done, every queued message handled, and then the asserted state.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from rich.console import Console

MAX_ROUNDS = 50


async def settle(pilot: Any, until: Callable[[], bool] | None = None, what: str = "the app to settle") -> None:
    """Run rounds of "all workers complete, all queued messages handled" until ``until()`` holds.

    A handler may start a new worker (indexing ends → the index state is checked) or post
    a message that posts another; each round drains one link of such a chain.  The bound is
    a number of rounds, not seconds, so a slow machine only makes a round take longer.
    """
    app = pilot.app
    for _ in range(MAX_ROUNDS):
        await app.workers.wait_for_complete()
        await pilot.pause()
        pending = any(not worker.is_finished for worker in app.workers)
        if not pending and (until is None or until()):
            return
    raise AssertionError(f"gave up waiting for {what} after {MAX_ROUNDS} rounds")


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (the same composition a screenshot renders)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def widget_text(widget: Any) -> str:
    """The words a widget shows, lines joined by spaces (to find a sentence however it wraps)."""
    lines = widget.render_lines(widget.size.region)
    return " ".join(" ".join(strip.text for strip in lines).split())
