"""Atomic writes: a file is written under a hidden temporary name in its folder and renamed into place, so
readers never see half a file and a crash never leaves one.

A process killed mid-write (SIGKILL, power cut) leaves its temporary file behind; it is never mistaken for
the real one, and the next write to the same path removes it once the process that made it is gone.
"""

import glob
import os
import re
from pathlib import Path

from signlang.errors import SignlangError


class atomic_path:
    """Context manager yielding a temporary path beside `path` (`.<name>.<pid>.tmp<suffix>`).

    Leaving the block normally renames it onto `path` (os.replace); an exception removes it. `commit` and
    `discard` do the same for a file written across several calls (VideoSink). Temporary files of `path`
    left by killed processes are removed first.
    """

    def __init__(self, path, suffix=""):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp{suffix}")
        _remove_stale(self.path)

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


def _remove_stale(path):
    """Removes `.<name>.<pid>.tmp*` files beside `path` whose process no longer runs."""
    if os.name != "posix":  # os.kill(pid, 0) is a liveness probe on POSIX only (on Windows it terminates)
        return
    name = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.tmp")
    for stale in path.parent.glob(glob.escape(f".{path.name}.") + "*.tmp*"):
        made_by = name.match(stale.name)
        if made_by and not _running(int(made_by.group(1))):
            try:
                stale.unlink()
            except OSError:  # gone already (another process swept it), or not ours to remove
                pass


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def write_bytes(path, data):
    """Writes `data` to `path` atomically; the folder must exist."""
    path = Path(path)
    if not path.parent.is_dir():
        raise SignlangError(f"{path}: folder {path.parent} does not exist")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
