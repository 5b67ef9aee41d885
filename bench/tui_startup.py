"""How fast the terminal UI starts, and that it does so without torch/transformers.

Prints a table: the import time of ``tui.app`` (in a fresh interpreter, with the
heavy modules it must not load), the time until the first screen is ready
(headless, files listed and the index state known), and until a first answer
with the real embedded model when ``--answer`` is given.

    .venv/bin/python bench/tui_startup.py [REPO] [--answer]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def import_time() -> tuple[float, str]:
    code = ("import time, sys; t = time.perf_counter(); import tui.app; d = time.perf_counter() - t; "
            "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'onnxruntime') if m in sys.modules]; "
            "print(d, ','.join(heavy) or '-')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    seconds, heavy = out.stdout.split()
    return float(seconds), heavy


async def ready_time(repo: Path, answer: bool) -> tuple[float, float | None]:
    from base.config import load_settings
    from tui.app import make_app
    from tui.widgets.status_bar import StatusBar

    settings = load_settings(repo).settings
    settings.model.max_new_tokens = 24
    started = time.perf_counter()
    app = make_app(repo, settings, preload_model=answer, offer_index=False)
    async with app.run_test(size=(120, 36)):
        status = app.query_one(StatusBar)
        checking = status.index_label
        while not (app.files and status.index_label != checking):  # the tree filled and the state shown
            await asyncio.sleep(0.01)
        ready = time.perf_counter() - started
        if not answer:
            return ready, None
        await app.workers.wait_for_complete()
        t0 = time.perf_counter()
        await app.dispatch_command("ask", "where is the price of an order computed?", "")
        await app.workers.wait_for_complete()
        return ready, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", default=str(ROOT / "sample_repo"))
    parser.add_argument("--answer", action="store_true", help="also time a first answer with the real model")
    args = parser.parse_args()
    seconds, heavy = import_time()
    ready, answered = asyncio.run(ready_time(Path(args.repo).resolve(), args.answer))
    rows = [("import tui.app", f"{seconds * 1000:.0f} ms"), ("heavy modules loaded by the import", heavy),
            ("first screen ready (tree filled + index state)", f"{ready * 1000:.0f} ms")]
    if answered is not None:
        rows.append(("model load + first answer (24 tokens)", f"{answered:.1f} s"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
