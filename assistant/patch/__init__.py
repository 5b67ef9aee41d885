"""Patch proposals: localize an issue, sample candidate edits, validate them, review, apply, undo.

Generated code is never trusted.  The flow, one module per job:

- :mod:`edit_formats` — the prompt for each edit format (search/replace blocks,
  unified diffs, whole-file rewrites) and the parser that turns a model's reply
  into :class:`~assistant.patch.edit_formats.Edit` objects;
- :mod:`matching` — finds each search text in its file (exact first, then
  tolerant of whitespace and indentation), rejecting no-match and multi-match;
- :mod:`safety` — the paths a patch may touch (inside the repository, not
  ``.git/``, not through symlinks, not binary);
- :mod:`changes` — a candidate's edits applied in memory to file contents;
- :mod:`diffs` — file changes rendered as a unified diff;
- :mod:`scratch` — a throw-away copy of the repository to validate in;
- :mod:`validate` — applies cleanly, syntax, new ruff findings, tests in the sandbox;
- :mod:`generate` — localization, prompting, best-of-n sampling, ranking, summary;
- :mod:`apply` — the review gate's atomic apply with backups, and ``undo``;
- :mod:`report` — the validation report as text and JSON.

Nothing here imports torch or a model at import time.
"""

from __future__ import annotations
