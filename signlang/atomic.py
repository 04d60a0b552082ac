"""Atomic writes: a file is written under a hidden temporary name in its folder and renamed into place, so
readers never see half a file and a crash never leaves one.
"""

import os
from pathlib import Path

from signlang.errors import SignlangError


class atomic_path:
    """Context manager yielding a temporary path beside `path` (`.<name>.<pid>.tmp<suffix>`).

    Leaving the block normally renames it onto `path` (os.replace); an exception removes it. `commit` and
    `discard` do the same for a file written across several calls (VideoSink).
    """

    def __init__(self, path, suffix=""):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp{suffix}")

    def __enter__(self):
        return self.tmp

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.commit()
        else:
            self.discard()

    def commit(self):
        os.replace(self.tmp, self.path)

    def discard(self):
        self.tmp.unlink(missing_ok=True)


def write_bytes(path, data):
    """Writes `data` to `path` atomically; the folder must exist."""
    path = Path(path)
    if not path.parent.is_dir():
        raise SignlangError(f"{path}: folder {path.parent} does not exist")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
