"""The repository's files as a tree: exactly the files the indexer considers.

Built from ``Session.files()`` (the indexer's walk, with its ignores), not from
the directory on disk, so ignored and skipped files never appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from textual import on
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode


class FileTree(Tree[str]):
    """Directories first, then files, both sorted; selecting a file opens it."""

    @dataclass
    class FileChosen(Message):
        path: str

    def __init__(self, repo_name: str, *, id: str | None = None) -> None:
        super().__init__(repo_name, id=id)
        self.show_root = False
        self.guide_depth = 2

    def set_files(self, files: list[str]) -> None:
        """Rebuild the tree from repository-relative paths."""
        self.clear()
        nodes: dict[str, TreeNode[str]] = {"": self.root}
        tree: dict[str, list[str]] = {}
        for path in files:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[: depth - 1])
                directory = "/".join(parts[:depth])
                siblings = tree.setdefault(parent, [])
                if directory + "/" not in siblings:
                    siblings.append(directory + "/")
            tree.setdefault("/".join(parts[:-1]), []).append(path)

        def build(prefix: str) -> None:
            entries = tree.get(prefix, [])
            dirs = sorted(e for e in entries if e.endswith("/"))
            leaves = sorted(e for e in entries if not e.endswith("/"))
            parent = nodes[prefix]
            for directory in dirs:
                name = directory.rstrip("/")
                node = parent.add(name.rsplit("/", 1)[-1] + "/", data=name)
                nodes[name] = node
                build(name)
            for leaf in leaves:
                parent.add_leaf(leaf.rsplit("/", 1)[-1], data=leaf)

        build("")
        self.root.expand()

    def reveal(self, path: str) -> None:
        """Expand the directories above ``path`` and move the cursor to it."""
        for node in self._walk(self.root):
            if node.data == path:
                parent = node.parent
                while parent is not None:
                    parent.expand()
                    parent = parent.parent
                self.call_after_refresh(self.move_cursor, node)
                return

    def _walk(self, node: TreeNode[str]) -> Iterator[TreeNode[str]]:
        for child in node.children:
            yield child
            yield from self._walk(child)

    @on(Tree.NodeSelected)
    def _on_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data and not event.node.allow_expand:
            self.post_message(self.FileChosen(event.node.data))
