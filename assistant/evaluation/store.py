"""The run directory: ``run.json`` (what was run), ``samples.jsonl`` (one line per finished sample).

Samples are appended and flushed the moment they finish, one complete JSON line
each, under a lock (execution runs in worker threads).  A rerun reads the file,
skips every sample already there and only produces the missing ones; a line cut
short by a crash is ignored (that sample is simply redone).  A directory that
holds a run of a different configuration is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from base.atomic import write_atomic
from base.errors import UsageError

RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
REPORT_FILE = "report.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON via a temp file + rename, so a reader never sees half a report."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


class SampleStore:
    """Append-only JSONL of finished samples, keyed by ``(task_id, index)``."""

    def __init__(self, out_dir: Path, identity: Mapping[str, Any]) -> None:
        self.out_dir = out_dir
        self.path = out_dir / SAMPLES_FILE
        self._lock = threading.Lock()
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        out_dir.mkdir(parents=True, exist_ok=True)
        self._check_identity(dict(identity))
        self._load()

    def _check_identity(self, identity: dict[str, Any]) -> None:
        run_file = self.out_dir / RUN_FILE
        if run_file.is_file():
            try:
                previous = json.loads(run_file.read_text(encoding="utf-8")).get("identity", {})
            except (OSError, json.JSONDecodeError):
                previous = None
            if previous is None:
                raise UsageError(f"{run_file} is unreadable", hint="delete it or choose another --out")
            changed = [key for key in identity if key in previous and previous[key] != identity[key]]
            if changed:
                key = changed[0]
                raise UsageError(
                    f"{self.out_dir} holds a run with a different {key} ({previous[key]!r}, now {identity[key]!r})",
                    hint="choose another --out directory, or delete that one to start over",
                )
        write_json_atomic(run_file, {"identity": identity})

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                    key = (str(record["task_id"]), int(record["index"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut short by a crash: that sample is redone
                self.records[key] = record
        # Make sure the next append starts on a fresh line even if the last one was cut.
        with self.path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    with self.path.open("a", encoding="utf-8") as out:
                        out.write("\n")

    def done_indices(self, task_id: str) -> set[int]:
        return {index for (tid, index) in self.records if tid == task_id}

    def for_task(self, task_id: str) -> list[dict[str, Any]]:
        return sorted((r for (tid, _i), r in self.records.items() if tid == task_id), key=lambda r: r["index"])

    def counts(self, field: str, value: Any) -> tuple[int, int]:
        """``(records, records whose field equals value)``, read under the lock (workers append concurrently)."""
        with self._lock:
            return len(self.records), sum(1 for r in self.records.values() if r.get(field) == value)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
            self.records[(str(record["task_id"]), int(record["index"]))] = record
