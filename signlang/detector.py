"""The decision: keypoint frames -> sliding window -> predictor -> stable signs -> sentence.

Plain numpy with the predictor injected (any callable from a (30, 1662) window to probabilities): no camera,
no window, no TensorFlow, so it is tested on keypoint streams in milliseconds.

How a stream is judged (README: "Real-time detection"):
- Window fill. Frames are appended at the end of a 30-frame window, like training data. Predictions
  start once half a window (15 frames) is there; until the window is full it is padded by repeating
  its last frame, exactly as `extract` pads a clip shorter than 30 frames, so a 1-3 s clip of one sign
  is judged on the same kind of window the model was trained on.
- Stability. A sign enters the sentence when the last N predictions all agree, its probability
  exceeds the threshold and it differs from the last word; the sentence keeps the last 5 words.
  N counts predictions at the sampling rate: config.STABLE_FRAMES (10) at config.FPS, scaled with the
  rate otherwise, so the sign must hold for the same time (10 frames at 25 fps = 0.4 s).
- End of stream. The last frame is repeated N - 1 more times (the signer holds the final pose), so the
  final window gets its N votes. For a clip shorter than a window this changes nothing in the window:
  the clip's last window is what is judged.
- Nobody seen. A window in which no frame has any landmark (all 1662 values zero) is not predicted and
  clears the votes, so a video without a person gives an empty sentence (and no bars).
"""

from collections import deque

import numpy as np

from signlang import config
from signlang.errors import SignlangError
from signlang.layout import FRAME_SIZE, pad

WINDOW_SHAPE = (config.SEQUENCE_LENGTH, FRAME_SIZE)
MIN_FRAMES = config.SEQUENCE_LENGTH // 2   # frames seen before the first prediction


def check_threshold(threshold):
    if not 0 <= threshold <= 1:
        raise SignlangError(f"--threshold must be a probability between 0 and 1, not {threshold}")


def stable_frames(fps):
    """Predictions that must agree: config.STABLE_FRAMES at config.FPS, the same duration at other rates."""
    return max(1, round(config.STABLE_FRAMES * fps / config.FPS))


class Detector:
    """Feeds keypoint frames one at a time through `predict` and builds the sentence (see module doc)."""

    def __init__(self, predict, actions, threshold=config.THRESHOLD, stable=config.STABLE_FRAMES,
                 sentence_length=config.SENTENCE_LENGTH, min_frames=MIN_FRAMES):
        check_threshold(threshold)
        self.predict, self.actions, self.threshold = predict, list(actions), threshold
        self.min_frames = min(max(1, min_frames), config.SEQUENCE_LENGTH)
        self.frames = deque(maxlen=config.SEQUENCE_LENGTH)  # bounded: memory stays flat on endless streams
        self.predictions = deque(maxlen=stable)
        self.sentence = deque(maxlen=sentence_length)
        self.probs = None  # last prediction, for the bars

    def window(self):
        return pad(np.stack(self.frames))

    def push(self, keypoints):
        """Adds one frame (1662 values); returns the sign that entered the sentence, or None."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.shape != (FRAME_SIZE,):
            raise SignlangError(f"a keypoint frame has {FRAME_SIZE} values, not shape {keypoints.shape}")
        self.frames.append(keypoints)
        if len(self.frames) < self.min_frames:
            return None
        window = self.window()
        if not window.any():  # nobody seen in the whole window: no vote, and older votes are stale
            self.predictions.clear()
            self.probs = None
            return None
        self.probs = np.asarray(self.predict(window))
        best = int(np.argmax(self.probs))
        self.predictions.append(best)
        sign = self.actions[best]
        stable = len(self.predictions) == self.predictions.maxlen and self.predictions.count(best) == len(self.predictions)
        if stable and self.probs[best] > self.threshold and (not self.sentence or self.sentence[-1] != sign):
            self.sentence.append(sign)
            return sign
        return None

    def flush(self):
        """End of stream: the last frame held for N - 1 more predictions; returns the signs added."""
        if not self.frames:
            return []
        last = self.frames[-1]
        return [s for s in (self.push(last) for _ in range(self.predictions.maxlen - 1)) if s]
