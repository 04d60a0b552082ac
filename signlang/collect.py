"""Keypoints into the tutorial's MP_Data tree: a video's keypoints, cut into sequences and written atomically
(for `extract`, signlang.extract), and the guided session (`collect`)."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from signlang import config, keypoints, timeline
from signlang.errors import SignlangError
from signlang.layout import pad
from signlang.manifest import SOURCE
from signlang.sources import is_camera, open_source


def video_keypoints(source, fps=config.FPS, holistic=None):
    """(n, 1662) keypoints of every sampled frame of a video, camera or image folder, on the config.FPS
    timeline (a slower source filled up, signlang.timeline; fps=None: every frame as it is, nothing filled).

    A Holistic passed in is reset first: it tracks landmarks from frame to frame, and the previous
    video's last pose must not steer this one's first frames.
    """
    frames = open_source(source, fps)
    if holistic is None:
        with keypoints.open_holistic() as model:
            return _keypoints(frames, model, source, fps is not None)
    holistic.reset()
    return _keypoints(frames, holistic, source, fps is not None)


def _keypoints(frames, model, source, fill):
    timed = ((f.t, keypoints.extract_keypoints(keypoints.mediapipe_detection(f.image, model)[1])) for f in frames)
    rows = list(timeline.filled(timed) if fill else (row for _, row in timed))
    if not rows:
        raise SignlangError(f"{source}: has no frames")
    return np.stack(rows)


def split_sequences(frames, length=config.SEQUENCE_LENGTH):
    """Cuts a clip's keypoints into training sequences.

    A clip shorter than `length` becomes one sequence, padded by repeating its last frame (the signer
    holds the final pose). A longer clip gives consecutive sequences; a remainder of at least half a
    sequence gives one more, made of the clip's last `length` frames; a shorter remainder is dropped.
    """
    return [pad(frames[start:end], length) for start, end in sequence_ranges(len(frames), length)]


def sequence_ranges(n, length=config.SEQUENCE_LENGTH):
    """The frames [start, end) of a clip of n frames that split_sequences makes each sequence of."""
    if n < length:
        return [(0, n)]
    starts = list(range(0, n - length + 1, length))
    if n - (starts[-1] + length) >= length / 2:
        starts.append(n - length)
    return [(s, s + length) for s in starts]


def check_action(name):
    if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise SignlangError(f"{name!r}: not usable as an action name (it names the folder MP_Data/<action>)")
    return name


def sequence_numbers(action_dir):
    with os.scandir(action_dir) as entries:  # scandir knows folders without a stat each: extract's folders get big
        return sorted(int(e.name) for e in entries if e.name.isdigit() and e.is_dir())


def write_sequence(action_dir, frames, source=None):
    """Writes one sequence as MP_Data/<action>/<n>/<frame>.npy, numbered after those already there.

    Frames (and `source`, a dict saved as source.json: where they came from) go to a hidden temporary
    folder first, renamed into place at the end, so an interrupted run leaves no half sequence and an
    existing one is never replaced. Returns the new folder.
    """
    action_dir = Path(action_dir)
    action_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=action_dir))
    try:
        for i, frame in enumerate(frames):
            np.save(tmp / f"{i}.npy", frame)
        if source is not None:
            (tmp / SOURCE).write_text(json.dumps(source))
        number = (sequence_numbers(action_dir) or [-1])[-1] + 1
        while True:
            target = action_dir / str(number)
            try:
                # The rename is the claim: a folder holding frames never replaces a sequence folder (rename
                # fails on a non-empty one), so two writers cannot share a number, and no empty numbered
                # folder is ever left behind as a claim made with mkdir would be by a kill at the wrong moment.
                os.rename(tmp, target)
                return target
            except OSError:
                if not target.exists():
                    raise
                number += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- collect: the tutorial's guided recording session ----------------------------------------------

def collect(actions=config.ACTIONS, sequences=config.NO_SEQUENCES, length=config.SEQUENCE_LENGTH,
            data_path=config.DATA_PATH, source=0, fps=config.FPS, show=True):
    """The tutorial's collection loop: `sequences` recordings of `length` frames per action.

    Numbering resumes after the sequences already on disk. q (in the window) or the end of a video
    source stops the session; the sequence in progress is then dropped, the finished ones are kept.
    Returns the folders written.
    """
    for action in actions:
        check_action(action)
    live = is_camera(source)
    frames = open_source(source, fps)
    written = []
    with keypoints.open_holistic() as model:
        try:
            for action in actions:
                for number in range(sequences):
                    recording, line = [], timeline.Timeline()  # a slow camera or machine filled up to config.FPS
                    while len(recording) < length:
                        frame = next(frames, None)
                        if frame is None:
                            return written
                        image, results = keypoints.mediapipe_detection(frame.image, model)
                        keypoints.draw_styled_landmarks(image, results)
                        first = not recording
                        _caption(image, action, number, first)
                        pause = 500 if first and live else 1  # the tutorial's break between sequences
                        recording += line.add(frame.t, keypoints.extract_keypoints(results))
                        if first and live:  # the break after a sequence's first frame is not filled
                            line = timeline.Timeline()
                        if show and _show(image, pause):
                            return written
                    written.append(write_sequence(Path(data_path) / action, np.stack(recording[:length])))
            return written
        finally:
            frames.close()
            if show:
                cv2.destroyAllWindows()


def _caption(image, action, number, starting):
    if starting:
        cv2.putText(image, "STARTING COLLECTION", (120, 200), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 255, 0), 4, cv2.LINE_AA)
    cv2.putText(image, f"Collecting frames for {action} Video Number {number}", (15, 12),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1, cv2.LINE_AA)


def _show(image, wait_ms):
    """Shows the frame; True when the user pressed q."""
    cv2.imshow("OpenCV Feed", image)
    return cv2.waitKey(wait_ms) & 0xFF == ord("q")
