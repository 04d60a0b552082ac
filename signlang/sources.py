"""Frames from a webcam, a video file or a folder of images, with timestamps, sampled at a target rate."""

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from signlang import config
from signlang.errors import SignlangError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class Frame:
    image: np.ndarray  # BGR, as OpenCV reads it
    t: float           # seconds since the start of the source


def has_display():
    return sys.platform != "linux" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def is_camera(source):
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


def open_source(source, fps=config.FPS):
    """Checks `source` now and returns an iterator of Frames.

    A camera index or a video yields at most `fps` frames a second (keeping the first frame of each
    1/fps slot, never repeating one), so a sign spans as many frames as in training whatever the
    recording rate; fps=None keeps every frame. A folder's images are taken as frames `1/fps` apart.
    """
    if fps is not None and not fps > 0:
        raise SignlangError(f"--fps must be a positive number of frames a second, not {fps}")
    if is_camera(source):
        return _sampled(_camera(int(source)), fps)
    path = Path(source)
    if path.is_dir():
        return _folder(path, fps or config.FPS)
    if not path.exists():
        raise SignlangError(f"{path}: no such file or folder")
    return _sampled(_video(path), fps)


def _camera(index):
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise SignlangError(f"camera {index}: could not be opened (none attached?); pass a video file or an image folder instead")
    return _live(cap)


def _live(cap):
    start = time.monotonic()
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            yield Frame(image, time.monotonic() - start)
    finally:
        cap.release()


def check_video_name(path):
    if Path(path).suffix.lower() not in VIDEO_EXTENSIONS:
        raise SignlangError(f"{path}: not a video ({', '.join(VIDEO_EXTENSIONS)}) nor an image folder")


def _video(path):
    check_video_name(path)
    cap = cv2.VideoCapture(os.fspath(path))
    ok, image = cap.read() if cap.isOpened() else (False, None)
    if not ok:
        cap.release()
        raise SignlangError(f"{path}: cannot be decoded as a video")
    rate = cap.get(cv2.CAP_PROP_FPS)
    rate = rate if 0 < rate < 1000 else config.FPS  # some containers (gif, webm) report no rate
    return _frames(cap, image, rate)


def _frames(cap, image, rate):
    try:
        index = 0
        while image is not None:
            yield Frame(image, index / rate)
            index += 1
            ok, image = cap.read()
            image = image if ok else None
    finally:
        cap.release()


def _sampled(frames, fps):
    if fps is None:
        yield from frames
        return
    last = -1
    for frame in frames:
        slot = math.floor(frame.t * fps + 1e-6)  # epsilon: 60 fps -> 15 fps keeps exactly every 4th frame
        if slot > last:
            last = slot
            yield frame


def _folder(path, fps):
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SignlangError(f"{path}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
    return _images(files, fps)


def _images(files, fps):
    for index, file in enumerate(files):
        image = cv2.imread(os.fspath(file))
        if image is None:
            raise SignlangError(f"{file}: cannot be decoded as an image")
        yield Frame(image, index / fps)
