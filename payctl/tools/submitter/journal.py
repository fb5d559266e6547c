"""The results file, which is also the run's journal: one JSON line per row, appended as rows finish.

A line is written once a row's outcome is known (accepted, replayed, or rejected), so the file is a
complete record of every finished row at any moment, Ctrl-C and crashes included. ``--resume``
reads it back and skips exactly those rows; a row sent but not yet written is sent again and comes
back ``replayed`` (its idempotency key is deterministic), so no row is skipped or paid twice.
"""

from __future__ import annotations

import bisect
import json
import os
from pathlib import Path
from typing import IO, Any

FORMAT = "payctl-submit-results/1"


class JournalError(ValueError):
    """The results file cannot be used for this run (exists without --resume, another file's, torn)."""


class RowSet:
    """Row numbers as sorted half-open intervals: a run's finished rows in a few intervals, not a set.

    Batches finish nearly in order, so a million finished rows are one interval plus a few gaps.
    """

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __contains__(self, number: int) -> bool:
        index = bisect.bisect_right(self._starts, number) - 1
        return index >= 0 and number < self._ends[index]

    def __len__(self) -> int:
        return sum(end - start for start, end in zip(self._starts, self._ends, strict=True))

    @property
    def intervals(self) -> int:
        return len(self._starts)

    def add(self, number: int) -> None:
        if number in self:
            return
        index = bisect.bisect_right(self._starts, number)
        joins_left = index > 0 and self._ends[index - 1] == number
        joins_right = index < len(self._starts) and self._starts[index] == number + 1
        if joins_left and joins_right:
            self._ends[index - 1] = self._ends[index]
            del self._starts[index], self._ends[index]
        elif joins_left:
            self._ends[index - 1] = number + 1
        elif joins_right:
            self._starts[index] = number
        else:
            self._starts.insert(index, number)
            self._ends.insert(index, number + 1)


class Journal:
    def __init__(self, path: Path, *, source: str, resume: bool) -> None:
        self.path = path
        self.done = RowSet()
        self.counts = {"accepted": 0, "replayed": 0, "rejected": 0}
        exists = path.exists() and path.stat().st_size > 0
        if exists and not resume:
            raise JournalError(f"{path} exists; pass --resume to continue that run, or remove it")
        if exists:
            self._load(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")
        if not exists:
            self._write({"format": FORMAT, "source": source})
            self.flush()

    def _load(self, source: str) -> None:
        with self.path.open("rb+") as handle:
            data_end = 0
            for number, raw in enumerate(handle):
                if not raw.endswith(b"\n"):
                    break  # a line torn by a crash: its row is sent again
                try:
                    line = json.loads(raw)
                except ValueError:
                    raise JournalError(f"{self.path}:{number + 1} is not a results line") from None
                if number == 0:
                    if line.get("format") != FORMAT:
                        raise JournalError(f"{self.path} is not a payctl submit results file")
                    if line.get("source") != source:
                        raise JournalError(
                            f"{self.path} records a run of {line.get('source')!r}, not {source!r}"
                        )
                else:
                    self.done.add(int(line["row"]))
                    self.counts[line["status"]] = self.counts.get(line["status"], 0) + 1
                data_end += len(raw)
            handle.truncate(data_end)

    def _write(self, line: dict[str, Any]) -> None:
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")

    def record(
        self,
        row: int,
        key: str | None,
        status: str,
        transaction_id: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        line: dict[str, Any] = {"row": row, "idempotency_key": key, "status": status}
        if transaction_id:
            line["transaction_id"] = transaction_id
        if error:
            line["error"] = error
        self._write(line)
        self.done.add(row)

    def flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self.flush()
        self._file.close()


def read_results(path: Path) -> list[dict[str, Any]]:
    """Every row line of a results file (for tests and small files; ``payctl wait`` streams it)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for number, line in enumerate(handle) if number > 0 and line.strip()]
