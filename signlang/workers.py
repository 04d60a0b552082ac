"""Clips through Holistic on this machine: in this process, or in worker processes each with its own Holistic.

Each job is (index, clip path, fps); each result is (index, keypoints) or (index, reason), the reason a
one-line "path: problem" for a clip that gives no keypoints, so one bad clip never stops the others.
signlang.ray_workers does the same on a Ray cluster.
"""

import multiprocessing

from signlang import keypoints
from signlang.collect import video_keypoints
from signlang.errors import SignlangError


def clip_keypoints(path, fps, holistic):
    """(n, 1662) keypoints of a clip, or the reason it gives none (a str)."""
    try:
        frames = video_keypoints(path, fps, holistic)
    except SignlangError as e:
        return str(e)
    except Exception as e:  # a decoder or MediaPipe failure on one clip must not stop the others
        return f"{path}: {type(e).__name__}: {e}"
    if not frames.any():
        return f"{path}: no person found in any frame"
    return frames


def run(jobs, workers):
    """Yields (index, keypoints or reason) as clips finish."""
    if workers <= 1:
        with keypoints.open_holistic() as model:
            for index, path, fps in jobs:
                yield index, clip_keypoints(path, fps, model)
        return
    # spawn: a forked copy of an initialised MediaPipe/TensorFlow runtime is not safe
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_worker_keypoints, jobs)


_worker_holistic = None


def _init_worker():
    global _worker_holistic
    _worker_holistic = keypoints.open_holistic()  # lives, and is closed, with the worker process


def _worker_keypoints(job):
    index, path, fps = job
    return index, clip_keypoints(path, fps, _worker_holistic)
