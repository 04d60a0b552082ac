"""What a person sees: landmarks, the tutorial's probability bars and sentence banner on each frame, shown in
a window or written to a video file.
"""

import os
from pathlib import Path

import cv2
import numpy as np

from signlang import keypoints as kp
from signlang.atomic import atomic_path
from signlang.errors import SignlangError

TUTORIAL_COLORS = [(245, 117, 16), (117, 245, 16), (16, 117, 245)]
WINDOW_NAME = "OpenCV Feed"


def bar_colors(n):
    """The tutorial's three bar colours, then evenly spread hues (golden-ratio steps) for more actions."""
    hues = [[[int(180 * (i * 0.618034 % 1)), 200, 245]] for i in range(3, n)]
    extra = cv2.cvtColor(np.uint8(hues), cv2.COLOR_HSV2BGR).reshape(-1, 3).tolist() if hues else []
    return (TUTORIAL_COLORS + [tuple(c) for c in extra])[:n]


def prob_viz(res, actions, input_frame, colors):
    """The tutorial's probability bars: one per action, 100 px at probability 1."""
    output_frame = input_frame.copy()
    for num, prob in enumerate(res):
        cv2.rectangle(output_frame, (0, 60 + num * 40), (int(prob * 100), 90 + num * 40), colors[num], -1)
        cv2.putText(output_frame, actions[num], (0, 85 + num * 40), cv2.FONT_HERSHEY_SIMPLEX, 1,
                    (255, 255, 255), 2, cv2.LINE_AA)
    return output_frame


def annotate(image, results, detector, colors):
    """Landmarks, probability bars and the sentence banner, as in the tutorial (banner as wide as the frame)."""
    kp.draw_styled_landmarks(image, results)
    if detector.probs is not None:
        image = prob_viz(detector.sign_probs(), detector.signs, image, colors)
    cv2.rectangle(image, (0, 0), (image.shape[1], 40), (245, 117, 16), -1)
    cv2.putText(image, " ".join(detector.sentence), (3, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2,
                cv2.LINE_AA)
    return image


class VideoSink:
    """Annotated frames -> a video file, written under a temporary name and renamed when complete."""

    FOURCC = {".avi": "MJPG"}  # anything else: mp4v (.mp4, .mov, .m4v, .mkv)

    def __init__(self, path, fps):
        self.path, self.fps, self.writer = Path(path), fps, None
        if not self.path.parent.is_dir():
            raise SignlangError(f"{self.path}: folder {self.path.parent} does not exist")
        self.file = atomic_path(self.path, self.path.suffix)

    def write(self, image):
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*self.FOURCC.get(self.path.suffix.lower(), "mp4v"))
            self.writer = cv2.VideoWriter(os.fspath(self.file.tmp), fourcc, self.fps, image.shape[1::-1])
            if not self.writer.isOpened():
                raise SignlangError(f"{self.path}: cannot write a video of this type (try .mp4 or .avi)")
        self.writer.write(image)

    def close(self, complete=True):
        if self.writer is not None:
            self.writer.release()
            self.file.commit() if complete else self.file.discard()


def shown_and_quit(image):
    """Shows the frame in the window; True when q was pressed."""
    cv2.imshow(WINDOW_NAME, image)
    return cv2.waitKey(1) & 0xFF == ord("q")
