"""The file tree fills directories when they are opened, so a 24K-file repository lists in milliseconds."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tests.tui.helpers import settle
from tui.widgets.file_tree import FileTree

pytestmark = pytest.mark.anyio

FILES = ["README.md", "pkg/__init__.py", "pkg/core/deep/x.py", "pkg/core/y.py", "pkg/a.py", "tools/run.sh"]


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FileTree("repo", id="tree")


def _labels(node: object) -> list[str]:
    return [str(child.label) for child in node.children]  # type: ignore[attr-defined]


async def test_directories_are_filled_when_opened_and_reveal_opens_the_way() -> None:
    app = TreeApp()
    async with app.run_test() as pilot:
        tree = app.query_one(FileTree)
        tree.set_files(FILES)
        await settle(pilot)
        assert _labels(tree.root) == ["pkg/", "tools/", "README.md"]  # directories first, both sorted
        pkg = tree.root.children[0]
        assert pkg.allow_expand and not pkg.children  # nothing built until it is opened
        pkg.expand()
        await settle(pilot, lambda: bool(pkg.children), "pkg/ to be filled")
        assert _labels(pkg) == ["core/", "__init__.py", "a.py"]
        tree.reveal("pkg/core/deep/x.py")
        await settle(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data == "pkg/core/deep/x.py",
                     "the cursor on the revealed file")
        core = pkg.children[0]
        assert core.is_expanded and _labels(core) == ["deep/", "y.py"]
        tree.set_files(["b.py"])  # a new listing replaces the old one entirely
        await settle(pilot)
        assert _labels(tree.root) == ["b.py"]
