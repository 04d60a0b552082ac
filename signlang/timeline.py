"""The training rate's timeline (config.FPS): frames of a slower source filled up by blending.

The model learnt signs at about 25 frames/s (README "Frame rate"). A camera or machine that gives fewer
frames a second, or a video of 10-20 frames/s, would squeeze a sign into fewer frames of the window, so the
steps such a source skips on the config.FPS timeline are filled with frames that blend their two
neighbours: each part moved a share of the way where both frames have it, else the nearer frame's (a hand
appearing or vanishing does not move). A longer break (a stalled camera, a page in the background) is a
pause, not a slow source: it is not filled. A faster source is not thinned here (sources.open_source does).
"""

import math

from signlang import config
from signlang.layout import FACE, LEFT_HAND, POSE, RIGHT_HAND

PARTS = (POSE, FACE, LEFT_HAND, RIGHT_HAND)
MAX_GAP = config.SEQUENCE_LENGTH // 2  # steps (0.6 s): a longer gap between two frames is a break, not filled


def step(t):
    """The config.FPS step a frame taken t seconds into the stream falls in."""
    return math.floor(t * config.FPS + 1e-6)  # epsilon: i / FPS * FPS may come out a hair below i


def blend(a, b, w):
    """The frame a share w of the way from frame a to frame b (1662 values each)."""
    out = (a if w < 0.5 else b).copy()
    for part in PARTS:
        if a[part].any() and b[part].any():
            out[part] = (1 - w) * a[part] + w * b[part]
    return out


def between(a, b, gap):
    """The gap - 1 frames skipped between frame a and frame b, `gap` steps later; none after a break."""
    return [blend(a, b, i / gap) for i in range(1, gap)] if gap <= MAX_GAP else []


class Timeline:
    """Frames as they come, with their times -> the frames on the config.FPS timeline."""

    def __init__(self):
        self.last = None  # (step, frame) of the last frame added

    def add(self, t, frame):
        """The frames up to this one, taken t seconds into the stream: the blends of the steps skipped since
        the last frame added, then the frame."""
        now = step(t)
        skipped = between(self.last[1], frame, now - self.last[0]) if self.last is not None else []
        self.last = (now, frame)
        return skipped + [frame]


def filled(timed):
    """(t, frame) pairs in time order -> the frames on the config.FPS timeline, the skipped steps filled."""
    line = Timeline()
    for t, frame in timed:
        yield from line.add(t, frame)
