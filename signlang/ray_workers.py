"""Clips through Holistic on a Ray cluster (`signlang extract --ray [ADDRESS]`; pip install signlang[ray]).

One Holistic per actor, each clip a task on an actor; results come back to the caller, which alone writes
them. A video's bytes travel with its task, so the cluster's machines need signlang but not the clips
(an image folder is read from its path: put it on a file system every machine sees). Imported only when
--ray is used: Ray is an optional extra.
"""

import os
import tempfile
from pathlib import Path

from signlang.errors import SignlangError

try:
    import ray
except ImportError:
    raise SignlangError("--ray: Ray is not installed; pip install 'signlang[ray]' (or pip install ray)") from None

from signlang import keypoints  # noqa: E402
from signlang.workers import clip_keypoints  # noqa: E402

IN_FLIGHT = 2  # clips queued per actor: the next one is there when an actor finishes


class HolisticActor:
    def __init__(self):
        self.holistic = keypoints.open_holistic()

    def keypoints(self, index, name, content, fps):
        """(index, keypoints or reason) of a clip sent as bytes (a video) or as a path (an image folder)."""
        if content is None:
            return index, clip_keypoints(name, fps, self.holistic)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / ("clip" + Path(name).suffix)
            path.write_bytes(content)
            result = clip_keypoints(os.fspath(path), fps, self.holistic)
        return index, result.replace(os.fspath(path), name) if isinstance(result, str) else result


def connect(address=None, actors=None):
    """Joins the cluster at `address` (or starts a local one with `actors` CPUs); returns the actor count.

    Within a process that already joined one (a benchmark, a test), that one is used.
    """
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=actors or os.cpu_count(), include_dashboard=False, log_to_driver=False)
    return actors or max(1, int(ray.cluster_resources().get("CPU", 1)))


def run(jobs, actors):
    """Yields (index, keypoints or reason) as clips finish, like signlang.workers.run."""
    remote = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(HolisticActor)
    pool = [remote.remote() for _ in range(actors)]
    jobs, pending = iter(jobs), {}

    def submit(actor):
        job = next(jobs, None)
        if job is not None:
            index, path, fps = job
            content = None if Path(path).is_dir() else Path(path).read_bytes()
            pending[actor.keypoints.remote(index, os.fspath(path), content, fps)] = (actor, index, path)

    for actor in pool * IN_FLIGHT:
        submit(actor)
    try:
        while pending:
            (done,), _ = ray.wait(list(pending), num_returns=1)
            actor, index, path = pending.pop(done)
            try:
                yield ray.get(done)
            except ray.exceptions.RayError as e:  # the actor died (out of memory, machine lost) past its restarts
                yield index, f"{path}: Ray: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            submit(actor)
    finally:
        for actor in pool:
            ray.kill(actor)
