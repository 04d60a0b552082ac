"""The decision: keypoint frames -> sliding window -> predictor -> stable signs -> sentence.

Plain numpy with the predictor injected (any callable from a (30, 1662) window to probabilities): no camera,
no window, no TensorFlow, so it is tested on keypoint streams in milliseconds.

How a stream is judged (README: "Real-time detection"):
- Window fill. Frames are appended at the end of a 30-frame window, like training data. Predictions
  start once half a window (15 frames) is there; until the window is full it is padded by repeating
  its last frame, exactly as `extract` pads a clip shorter than 30 frames, so a 1-3 s clip of one sign
  is judged on the same kind of window the model was trained on.
- Stability. A sign is given when the last N predictions all name it with a probability above the
  threshold and with config.CONFIDENCE (0.8) on average. N counts predictions at the sampling rate:
  config.STABLE_FRAMES (10) at config.FPS, scaled with a faster rate, so the sign must hold for the
  same time (10 frames at 25 fps = 0.4 s).
- Once per stretch of signing. A sign is given once while the signer keeps signing it; another sign
  in the same stretch is given too (a run of signs). "No sign" as the best output for N / 2 predictions
  in a row (rest, hands down) ends the stretch, so the same sign after a pause counts again. The "no
  sign" output never enters the sentence and gets no bar. A model without one (the tutorial's) still
  works: its stretches end only when nobody is seen, so a sign repeats only after another sign.
- Sentence. Every sign given is kept in `words`; the banner shows the last 5 (`sentence`).
- End of stream. The last frame is repeated N - 1 more times (the signer holds the final pose), so the
  final window gets its N votes. For a clip shorter than a window this changes nothing in the window:
  the clip's last window is what is judged.
- Nobody seen. A window in which no frame has any landmark (all 1662 values zero) is not predicted and
  clears the votes, so a video without a person gives an empty sentence (and no bars).
- Slow sources. Frames pushed with their time are placed on the training rate's timeline: the steps a
  slow camera, machine or video skips are filled by blending its frames (signlang.timeline), so a sign
  spans as many frames as in training whatever the rate.
"""

from collections import deque

import numpy as np

from signlang import config, timeline
from signlang.errors import SignlangError
from signlang.layout import FRAME_SIZE, pad

WINDOW_SHAPE = (config.SEQUENCE_LENGTH, FRAME_SIZE)
MIN_FRAMES = config.SEQUENCE_LENGTH // 2   # frames seen before the first prediction


def check_threshold(threshold):
    if not 0 <= threshold <= 1:
        raise SignlangError(f"--threshold must be a probability between 0 and 1, not {threshold}")


def stable_frames(fps):
    """Predictions that must agree: config.STABLE_FRAMES at config.FPS, the same duration at faster rates (a
    slower source's frames are filled up to config.FPS when pushed with their times)."""
    return max(1, round(config.STABLE_FRAMES * max(fps, config.FPS) / config.FPS))


class Detector:
    """Feeds keypoint frames one at a time through `predict` and builds the sentence (see module doc).

    no_sign: the action name of the model's "no sign" output, or None for a model without one.
    confidence: the mean probability a sign needs over its N agreeing predictions.
    """

    def __init__(self, predict, actions, threshold=config.THRESHOLD, stable=config.STABLE_FRAMES,
                 sentence_length=config.SENTENCE_LENGTH, min_frames=MIN_FRAMES, no_sign=None,
                 confidence=config.CONFIDENCE):
        check_threshold(threshold)
        self.predict, self.actions, self.threshold, self.confidence = predict, list(actions), threshold, confidence
        if no_sign is not None and no_sign not in self.actions:
            raise SignlangError(f"the 'no sign' output {no_sign!r} is not among the actions {self.actions}")
        self.no_sign = None if no_sign is None else self.actions.index(no_sign)
        self.signs = [a for a in self.actions if a != no_sign]  # what the bars show
        self.min_frames = min(max(1, min_frames), config.SEQUENCE_LENGTH)
        self.frames = deque(maxlen=config.SEQUENCE_LENGTH)  # bounded: memory stays flat on endless streams
        self.votes = deque(maxlen=stable)
        self.best_probs = deque(maxlen=stable)  # the best sign's probability at each sign vote: when all N
        # votes name one sign, the last N entries are exactly theirs
        self.rest = max(1, stable // 2)  # "no sign" predictions in a row that end a stretch of signing
        self.quiet = 0
        self.current = None  # the sign already given in this stretch of signing
        self.words = []      # every sign given, in order
        self.confidences = []  # the mean probability over its N votes that each word was given with
        self.sentence = deque(maxlen=sentence_length)  # the last words, for the banner
        self.probs = None    # last prediction over all outputs
        self.timeline = timeline.Timeline()  # where frames pushed with their times fall, slow sources filled up

    def window(self):
        return pad(np.stack(self.frames))

    def sign_probs(self):
        """The last prediction's probabilities of the signs (the "no sign" output left out), or None."""
        if self.probs is None:
            return None
        return self.probs if self.no_sign is None else np.delete(self.probs, self.no_sign)

    def push(self, keypoints, t=None):
        """Adds one frame (1662 values), taken t seconds into the stream if given (see "Slow sources" above);
        returns the sign that entered the sentence, or None."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.shape != (FRAME_SIZE,):
            raise SignlangError(f"a keypoint frame has {FRAME_SIZE} values, not shape {keypoints.shape}")
        given = None
        for frame in [keypoints] if t is None else self.timeline.add(t, keypoints):
            given = self._step(frame) or given
        return given

    def _step(self, keypoints):
        self.frames.append(keypoints)
        if len(self.frames) < self.min_frames:
            return None
        window = self.window()
        if not window.any():  # nobody seen in the whole window: no vote, and the stretch is over
            self._rest()
            self.probs = None
            return None
        self.probs = np.asarray(self.predict(window))
        best = int(np.argmax(self.probs))
        if best == self.no_sign:
            self.votes.append(None)
            self.quiet += 1
            if self.quiet >= self.rest:
                self._rest()
            return None
        self.quiet = 0
        self.votes.append(best if self.probs[best] > self.threshold else None)
        self.best_probs.append(self.probs[best])
        stable = len(self.votes) == self.votes.maxlen and all(v == best for v in self.votes)
        if not stable or best == self.current or np.mean(self.best_probs) < self.confidence:
            return None
        self.current = best
        sign = self.actions[best]
        self.words.append(sign)
        self.confidences.append(float(np.mean(self.best_probs)))
        self.sentence.append(sign)
        return sign

    def _rest(self):
        """The end of a stretch of signing: the next stable sign is new, even if it is the same as the last."""
        self.votes.clear()
        self.quiet = 0
        self.current = None

    def flush(self):
        """End of stream: the last frame held for N - 1 more predictions; returns the signs added."""
        if not self.frames:
            return []
        last = self.frames[-1]
        return [s for s in (self.push(last) for _ in range(self.votes.maxlen - 1)) if s]
