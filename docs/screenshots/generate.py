"""Regenerate the README screenshots with the real embedded model on an indexed sample_repo.

    .venv/bin/repo-assistant index sample_repo
    .venv/bin/python docs/screenshots/generate.py [REPO]

Writes main.svg (a streamed, cited answer), context.svg (the inspector) and
patch.svg (the review of ``/patch @ISSUES/001-*.md``) next to this file.  The
answers are the 135M model's own: the screenshots show the pipeline, not a
strong model's quality.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

QUESTION = "where is the price of an order computed?"


async def main(repo: Path) -> None:
    from base.config import load_settings
    from tui.app import make_app
    from tui.widgets.prompt import PromptInput

    settings = load_settings(repo).settings
    settings.model.max_new_tokens = 96
    app = make_app(repo, settings, cursor_blink=False, offer_index=False)
    app.notify = lambda *args, **kwargs: None  # type: ignore[method-assign]
    async with app.run_test(size=(130, 38)) as pilot:
        await app.workers.wait_for_complete()
        app.query_one(PromptInput).value = QUESTION
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        app._open("shopcore/pricing/calculator.py", 60)
        await pilot.pause()
        app.save_screenshot("main.svg", str(HERE))
        await pilot.press("f3")
        app.query_one("#context").styles.height = 18
        app.query_one("#context-table").focus()
        await pilot.pause()
        app.save_screenshot("context.svg", str(HERE))
        await pilot.press("f3")
        app.query_one(PromptInput).value = "/patch @ISSUES/001-*.md"
        app.query_one(PromptInput).focus()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot("patch.svg", str(HERE))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "sample_repo").resolve()))
