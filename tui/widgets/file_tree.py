"""The repository's files as a tree: exactly the files the indexer considers.

Built from ``Session.files()`` (the indexer's walk, with its ignores), not from
the directory on disk, so ignored and skipped files never appear.
"""

from __future__ import annotations

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
        self._listing: dict[str, tuple[set[str], list[str]]] = {}  # directory -> (subdirectories, files)

    def set_files(self, files: list[str]) -> None:
        """Rebuild the tree from repository-relative paths.

        Only the top level gets nodes now; a directory's children are added when it is
        first expanded.  Building all 24K nodes of a large tree took seconds on the UI
        thread, for directories nobody opens.
        """
        self.clear()
        self._listing = {}
        for path in files:
            parent, _, _name = path.rpartition("/")
            self._listing.setdefault(parent, (set(), []))[1].append(path)
            while parent:
                above = parent.rpartition("/")[0]
                subdirs = self._listing.setdefault(above, (set(), []))[0]
                if parent in subdirs:
                    break  # the directories above were registered with it
                subdirs.add(parent)
                parent = above
        self._fill(self.root, "")
        self.root.expand()

    def _fill(self, node: TreeNode[str], directory: str) -> None:
        """Add the children of ``directory`` under ``node``: subdirectories first, both sorted."""
        subdirs, leaves = self._listing.get(directory, (set(), []))
        for sub in sorted(subdirs):
            node.add(sub.rsplit("/", 1)[-1] + "/", data=sub, allow_expand=True)
        for leaf in sorted(leaves):
            node.add_leaf(leaf.rsplit("/", 1)[-1], data=leaf)

    def _opened(self, node: TreeNode[str]) -> None:
        """Fill a directory node the first time it is needed."""
        if node.allow_expand and node.data and not node.children:
            self._fill(node, node.data)

    @on(Tree.NodeExpanded)
    def _on_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        event.stop()
        self._opened(event.node)

    def reveal(self, path: str) -> None:
        """Expand the directories above ``path`` and move the cursor to it."""
        node: TreeNode[str] = self.root
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            wanted = "/".join(parts[:depth])
            child = next((c for c in node.children if c.data == wanted), None)
            if child is None:
                return
            node = child
            if depth < len(parts):
                self._opened(node)
                node.expand()
        self.call_after_refresh(self.move_cursor, node)

    @on(Tree.NodeSelected)
    def _on_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data and not event.node.allow_expand:
            self.post_message(self.FileChosen(event.node.data))
