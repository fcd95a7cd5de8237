"""Records as a list prints them, kept by the stored row they were printed from.

Printing a record (`show/api.py`: its dates in the configured zone, its lists read back from JSON) is most of what
a page of 20 costs. The same row prints the same bytes, so a printed record is kept under the row's every stored
value: a row that changed in any column is another key, and never finds an older printing. At most SIZE are kept
(about 1.5 kB each), the oldest dropped first; the worker threads share them.
"""

import threading
from datetime import tzinfo
from pathlib import Path

from fetcher.show import api

SIZE = 10_000


class Rendered:
    def __init__(self, zone: tzinfo, store_path: Path, size: int = SIZE):
        self.zone, self.store_path, self.size = zone, store_path, size
        self._kept: dict[tuple, str] = {}
        self._lock = threading.Lock()

    def line(self, row: dict) -> str:
        """The row as its line of `fetcher export --jsonl` prints it."""
        return self._printed("line", row, api.export_line)

    def show(self, row: dict) -> str:
        """The row as `fetcher show` prints it."""
        return self._printed("show", row, api.show_text)

    def _printed(self, form: str, row: dict, printer) -> str:
        key = (form, *row.items())
        with self._lock:
            found = self._kept.get(key)
        if found is not None:
            return found
        text = printer(api.stored_record(row, self.zone, self.store_path), self.store_path)
        if self.size:
            with self._lock:
                if len(self._kept) >= self.size:
                    del self._kept[next(iter(self._kept))]
                self._kept[key] = text
        return text
