"""Where each sequence `extract` wrote came from, so a run can resume and never add a clip twice.

Each such sequence folder holds source.json: the clip (content hash, path, fps, sequence length), which of
the clip's sequences it is and the frames it covers. It is written inside the temporary folder before the
rename (collect.write_sequence), so a sequence is on disk with its source or not at all: these files are
the truth. MP_Data/<action>/manifest.json, beside the sequences, lists the action's clips whose sequences
are all on disk, and the clips that failed with the reason. It is rebuilt from the source files when a
run starts and rewritten atomically after each clip, under a lock that writers of the action take, so it
never names a sequence that is not there and two runs writing at once keep each other's entries.
"""

import hashlib
import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from signlang import atomic
from signlang.sources import IMAGE_EXTENSIONS

SOURCE = "source.json"      # in each sequence folder
MANIFEST = "manifest.json"  # in each action folder
LOCK = ".manifest.lock"
FIELDS = {"key", "run", "part", "parts", "start", "end", "path", "sha256", "fps", "length", "frames"}


def content_hash(path):
    """sha256 of a video file, or of an image folder's image names and bytes."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Clip:
    """A clip to extract: the same content, action, fps and sequence length is the same clip."""
    path: Path
    action: str
    sha256: str
    fps: float
    length: int

    @property
    def key(self):
        return f"{self.sha256}@{self.fps:g}x{self.length}"

    def describe(self):
        return {"path": os.fspath(self.path.absolute()), "sha256": self.sha256, "fps": self.fps, "length": self.length}

    def sources(self, ranges, frames):
        """The source.json of each of the clip's sequences, one new run id for them all."""
        run = uuid.uuid4().hex
        return [{**self.describe(), "key": self.key, "frames": frames, "run": run, "part": part,
                 "parts": len(ranges), "start": start, "end": end} for part, (start, end) in enumerate(ranges)]


class ActionManifest:
    """MP_Data/<action>/manifest.json: {"clips": {key: entry}, "failed": {key: entry}}."""

    def __init__(self, action_dir):
        self.dir = Path(action_dir)
        self.path = self.dir / MANIFEST
        self._cache = (None, None)  # (file identity, manifest) as last read or written by this process

    @contextmanager
    def locked(self):
        """Holds the action's lock; the system drops it when the process dies, so a kill never leaves it held."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / LOCK, "a+b") as f:
            _lock(f)
            yield

    def read(self):
        """The manifest on disk; parsed again only when another process has replaced the file since."""
        identity = self._identity()
        if identity is not None and identity == self._cache[0]:
            return self._cache[1]
        try:
            manifest = json.loads(self.path.read_text())
        except (OSError, ValueError):  # none yet, or damaged by hand: the source files rebuild it
            manifest = {}
        manifest = {"clips": manifest.get("clips", {}), "failed": manifest.get("failed", {})}
        self._cache = (identity, manifest)
        return manifest

    def write(self, manifest):
        """Atomically; one clip a line (readable, and json's fast encoder: indent= would use the slow one)."""
        parts = [f'"{part}": {{\n' + ",\n".join(f"{json.dumps(key)}: {json.dumps(entry, sort_keys=True)}"
                                               for key, entry in sorted(manifest[part].items())) + "\n}"
                 for part in ("clips", "failed")]
        atomic.write_bytes(self.path, ("{" + ",\n".join(parts) + "}\n").encode())
        self._cache = (self._identity(), manifest)

    def _identity(self):
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def rebuild(self):
        """Under the lock: the manifest from the source files; returns (manifest, partial).

        partial: {key: {part: (folder, source)}} of clips with only some sequences on disk (a run killed while
        writing them), to be completed. Left-overs of an interrupted `--force` (an older complete set, or
        part of a new one beside a complete set) are removed, keeping the newest complete set.
        """
        runs = {}
        for folder, source in self._sources():
            runs.setdefault(source["key"], {}).setdefault(source["run"], {})[source["part"]] = (folder, source)
        old = self.read()
        manifest, partial = {"clips": {}, "failed": {}}, {}
        for key, by_run in runs.items():
            complete = [parts for parts in by_run.values() if len(parts) == next(iter(parts.values()))[1]["parts"]]
            if complete:
                keep = max(complete, key=lambda parts: max(int(folder.name) for folder, _ in parts.values()))
                manifest["clips"][key] = entry(keep.values())
            else:
                keep = max(by_run.values(), key=len)
                partial[key] = keep
            for parts in by_run.values():
                if parts is not keep:
                    for folder, _ in parts.values():
                        remove_sequence(folder)
        manifest["failed"] = {key: e for key, e in old["failed"].items() if key not in manifest["clips"]}
        if manifest != old or not self.path.exists():
            self.write(manifest)
        return manifest, partial

    def _sources(self):
        if not self.dir.is_dir():
            return
        for folder in self.dir.iterdir():
            if folder.name.isdigit() and (folder / SOURCE).is_file():
                try:
                    source = json.loads((folder / SOURCE).read_text())
                except ValueError:  # extract writes it whole before the rename: this one is not ours
                    continue
                if isinstance(source, dict) and FIELDS <= source.keys():
                    yield folder, source


def entry(parts):
    """A manifest entry from a complete clip's [(folder, source)]."""
    parts = sorted(parts, key=lambda part: part[1]["part"])
    first = parts[0][1]
    return {**{k: first[k] for k in ("path", "sha256", "fps", "length", "frames")},
            "sequences": [{"folder": folder.name, "frames": [s["start"], s["end"]]} for folder, s in parts]}


def remove_sequence(folder):
    """Renames a sequence folder out of sight (hidden, so readers skip it), then deletes it: a kill
    during the deletion leaves a hidden folder, never half a sequence."""
    hidden = folder.with_name(f".removed-{folder.name}-{uuid.uuid4().hex[:8]}")
    os.rename(folder, hidden)
    for file in hidden.iterdir():
        file.unlink()
    hidden.rmdir()


def _lock(f):
    if os.name == "nt":
        import msvcrt
        msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
    else:
        import fcntl
        fcntl.flock(f, fcntl.LOCK_EX)
