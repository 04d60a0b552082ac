"""`signlang extract`: clips -> MP_Data sequences, resumable, on this machine or a Ray cluster.

Clips whose sequences are all on disk (signlang.manifest) are skipped; the others run through Holistic
in this process, worker processes (signlang.workers) or Ray actors (signlang.ray_workers), and this
process alone writes what comes back, clip by clip, so numbering and manifests stay consistent. A clip
that fails is recorded with its reason (and not tried again without --force); the others go on.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from signlang import config
from signlang.collect import check_action, sequence_ranges, split_sequences, write_sequence
from signlang.errors import SignlangError
from signlang.manifest import ActionManifest, Clip, content_hash, entry, remove_sequence
from signlang.sources import check_video_name


@dataclass
class Outcome:
    written: list = field(default_factory=list)   # sequence folders written by this run
    extracted: int = 0                            # clips extracted by this run
    skipped: int = 0                              # clips done before, left alone
    failed: list = field(default_factory=list)    # "path: reason" of every clip without sequences


def extract(clips, data_path=config.DATA_PATH, fps=config.FPS, workers=1, length=config.SEQUENCE_LENGTH,
            progress=True, force=False, ray=None):
    """Extracts [(clip path, action)] into data_path/<action>/<n>/; returns an Outcome.

    workers: processes on this machine, or with `ray` the Ray actors (None: one per CPU of the cluster).
    ray: None (no Ray), "" (a local Ray) or a cluster address. force: extract clips again that are done
    (their old sequences are removed once the new ones are in place) or failed before.
    """
    if not clips:
        raise SignlangError("extract: no videos given")
    for path, action in clips:
        check_action(action)
        check_clip(path)
    jobs, outcome = _clips(clips, fps, length), Outcome()
    manifests = {action: Manifest(Path(data_path) / action) for action in {clip.action for clip in jobs}}
    todo = []
    for clip in jobs:
        manifest = manifests[clip.action]
        if force or not manifest.settled(clip):
            todo.append(clip)
        elif clip.key in manifest.failed:
            outcome.failed.append(manifest.failed[clip.key]["reason"])
        else:
            outcome.skipped += 1
    bar = tqdm(total=len(todo), unit="clip", disable=not progress or not todo)
    for index, result in _run([(i, os.fspath(c.path), fps) for i, c in enumerate(todo)], workers, ray):
        clip = todo[index]
        if isinstance(result, str):
            manifests[clip.action].fail(clip, result)
            outcome.failed.append(result)
        else:
            outcome.written += manifests[clip.action].add(clip, result, force)
            outcome.extracted += 1
        bar.update()
    bar.close()
    return outcome


def check_clip(path):
    """A clip that is not there or not a video stops the run before the slow part; one that fails to
    decode is only listed at the end."""
    path = Path(path)
    if not path.exists():
        raise SignlangError(f"{path}: no such file or folder")
    if not path.is_dir():
        check_video_name(path)


def _clips(clips, fps, length):
    """Clip identities, each once (the same content filed under the same action twice is one clip)."""
    unique = {}
    for path, action in tqdm(clips, unit="clip", desc="hashing", disable=len(clips) < 1000, leave=False):
        clip = Clip(Path(path), action, content_hash(path), fps, length)
        unique.setdefault((action, clip.key), clip)
    return list(unique.values())


def _run(jobs, workers, ray):
    if ray is None:
        from signlang import workers as local
        return local.run(jobs, workers)
    from signlang import ray_workers  # only here: Ray is an optional extra
    return ray_workers.run(jobs, ray_workers.connect(ray, workers))


class Manifest(ActionManifest):
    """An action's manifest as this run sees it: rebuilt at the start, updated clip by clip."""

    def __init__(self, action_dir):
        super().__init__(action_dir)
        with self.locked():
            manifest, self.partial = self.rebuild()
        self.failed = manifest["failed"]
        self.done = set(manifest["clips"])

    def settled(self, clip):
        return clip.key in self.done or clip.key in self.failed

    def add(self, clip, frames, force):
        """Writes the clip's sequences not yet on disk and its manifest entry; returns the folders written."""
        sequences = split_sequences(frames, clip.length)
        sources = clip.sources(sequence_ranges(len(frames), clip.length), len(frames))
        with self.locked():
            manifest = self.read()
            old = manifest["clips"].get(clip.key)
            if old is not None and not force:  # another run finished it meanwhile
                return []
            present = self.partial.pop(clip.key, {})  # {part: (folder, source)} a killed run left
            stale = [self.dir / s["folder"] for s in old["sequences"]] if old is not None else []
            if force or any(source["parts"] != len(sources) for _, source in present.values()):
                stale, present = stale + [folder for folder, _ in present.values()], {}
            elif present:  # complete the set the killed run began, under its run id
                run = next(iter(present.values()))[1]["run"]
                sources = [{**s, "run": run} for s in sources]
            new = [(sequence, source) for sequence, source in zip(sequences, sources) if source["part"] not in present]
            written = [write_sequence(self.dir, sequence, source) for sequence, source in new]
            manifest["clips"][clip.key] = entry(list(present.values()) + list(zip(written, (s for _, s in new))))
            manifest["failed"].pop(clip.key, None)
            self.write(manifest)
            for folder in stale:  # --force: the new set is in place and recorded; the old one goes
                remove_sequence(folder)
        self.done.add(clip.key)
        return written

    def fail(self, clip, reason):
        with self.locked():
            manifest = self.read()
            if clip.key in manifest["clips"]:  # another run extracted it meanwhile
                return
            manifest["failed"][clip.key] = self.failed[clip.key] = {**clip.describe(), "reason": reason}
            self.write(manifest)
