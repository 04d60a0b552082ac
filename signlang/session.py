"""One browser connection of the web page (signlang.web): JPEG frames in, one result message out per frame.

A Session owns its Holistic graph and its Detector and runs the steps of `signlang detect`: Holistic, the
1662 keypoints, the window, the predictor (one per server, shared behind a lock) and the decision rule.
It also runs the page's guided recording, which writes sequences exactly as `signlang collect` does
(check_action, then write_sequence: atomic, numbered after the existing ones, never overwriting).

No sockets here: the server hands a Session bytes and dicts and sends back the dicts it returns, all
from one thread per connection (a Session is not thread-safe), so it is tested without a browser.
"""

import threading
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from signlang import config, layout, timeline
from signlang import keypoints as kp
from signlang.collect import check_action, write_sequence
from signlang.detector import Detector, stable_frames
from signlang.display import bar_colors
from signlang.errors import SignlangError

MAX_FRAME_BYTES = 2 * 1024 * 1024   # one JPEG frame from the page
MAX_FRAME_PIXELS = 1920 * 1920      # refused before decoding: a small JPEG can claim a huge picture
FRAME_BOX = (640, 480)              # larger frames are scaled down to fit, as the page sends them
MAX_SEQUENCES = 100                 # per recording request
PAUSE = 0.5                         # seconds of "STARTING COLLECTION" before each sequence (the tutorial's)
PARTS = {"face": "face_landmarks", "pose": "pose_landmarks", "left_hand": "left_hand_landmarks",
         "right_hand": "right_hand_landmarks"}  # drawn in this order, as draw_styled_landmarks does


class SharedPredictor:
    """A predictor used by several sessions' threads: LiteRT interpreters are not thread-safe."""

    def __init__(self, predictor):
        self.predictor, self.lock = predictor, threading.Lock()
        self.actions, self.no_sign = predictor.actions, predictor.no_sign

    def __call__(self, window):
        with self.lock:
            return self.predictor(window)


def drawing_styles():
    """Connections and colours of each part, as keypoints.STYLES draws them (CSS colours), for the page."""
    def css(bgr):
        return "rgb({2},{1},{0})".format(*(min(255, c) for c in bgr))

    styles, by_part = {}, {style[0]: style for style in kp.STYLES}
    for name, part in PARTS.items():
        _, pairs, point, line = by_part[part]
        styles[name] = {"connections": pairs.tolist(), "point": {"color": css(point.color), "radius": point.circle_radius},
                        "line": {"color": css(line.color), "width": line.thickness}}
    return styles


def landmarks(keypoints):
    """Normalised x, y of each part as a flat list [x0, y0, x1, y1, ...], None for a part not found; a
    point the tutorial's drawing leaves out (outside the frame, pose visibility < 0.5) is None, None."""
    pose = keypoints[layout.POSE].reshape(-1, 4)
    parts = {"face": keypoints[layout.FACE].reshape(-1, 3), "pose": pose,
             "left_hand": keypoints[layout.LEFT_HAND].reshape(-1, 3),
             "right_hand": keypoints[layout.RIGHT_HAND].reshape(-1, 3)}
    out = {}
    for name, points in parts.items():
        if not points.any():
            out[name] = None
            continue
        xy = np.round(points[:, :2].astype(np.float64), 4)
        shown = ((xy >= 0) & (xy <= 1)).all(axis=1)
        if name == "pose":
            shown &= points[:, 3] >= 0.5
        out[name] = [v if ok else None for (x, y), ok in zip(xy.tolist(), shown.tolist()) for v in (x, y)]
    return out


def jpeg_size(data):
    """(width, height) read from a JPEG's frame header, or None when `data` is not a JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            if i + 9 > len(data):
                return None
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def decode_frame(data):
    """A JPEG frame -> BGR image fitting FRAME_BOX; SignlangError for anything else."""
    if len(data) > MAX_FRAME_BYTES:
        raise SignlangError(f"frame of {len(data) / 2**20:.1f} MB: more than the {MAX_FRAME_BYTES // 2**20} MB a frame "
                            f"may have (send JPEG frames of at most {FRAME_BOX[0]}x{FRAME_BOX[1]})")
    size = jpeg_size(data)
    if size is None:
        raise SignlangError("a frame must be a JPEG image")
    if size[0] * size[1] > MAX_FRAME_PIXELS or 0 in size:
        raise SignlangError(f"frame of {size[0]}x{size[1]} pixels: send at most {FRAME_BOX[0]}x{FRAME_BOX[1]}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise SignlangError("a frame could not be decoded as a JPEG image")
    scale = min(1.0, FRAME_BOX[0] / image.shape[1], FRAME_BOX[1] / image.shape[0])
    if scale < 1:
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    return image


class Recording:
    """The tutorial's guided collection of `sequences` sequences of one action, fed frame by frame."""

    def __init__(self, action_dir, action, sequences, length=config.SEQUENCE_LENGTH):
        self.action_dir, self.action, self.sequences, self.length = action_dir, action, sequences, length
        self.frames, self.written, self.pause_until = [], [], None
        self.line = timeline.Timeline()  # a slow browser or machine filled up to config.FPS, as in `collect`

    def push(self, keypoints, now):
        """Adds a frame (none while the pause lasts); writes each complete sequence. Returns the status."""
        if self.pause_until is None:
            self.pause_until = now + PAUSE
        starting = now < self.pause_until
        if not starting:
            self.frames += self.line.add(now, keypoints)
            if len(self.frames) >= self.length:
                self.written.append(write_sequence(self.action_dir, np.stack(self.frames[:self.length])))
                self.frames, self.pause_until, self.line = [], None, timeline.Timeline()
        return self.status(starting)

    @property
    def done(self):
        return len(self.written) >= self.sequences

    def status(self, starting=False, stopped=False):
        return {"action": self.action, "sequence": min(len(self.written), self.sequences - 1),
                "sequences": self.sequences, "frame": len(self.frames), "length": self.length,
                "starting": starting and not self.done, "written": [f"{p.parent.name}/{p.name}" for p in self.written],
                "done": self.done, "stopped": stopped}


class Session:
    """One connection: its Holistic graph (close() ends it), Detector and guided recording."""

    def __init__(self, predictor, data_path=config.DATA_PATH, threshold=config.THRESHOLD):
        self.predictor, self.threshold, self.data_path = predictor, threshold, Path(data_path)
        self.detector = self._detector()
        self.holistic = kp.open_holistic()
        self.recording = None
        self.times = deque(maxlen=30)  # when the last frames were done: the frame rate

    def _detector(self):
        return Detector(self.predictor, self.predictor.actions, self.threshold, stable_frames(config.FPS),
                        no_sign=self.predictor.no_sign)

    def close(self):
        self.holistic.close()

    def welcome(self):
        """The first message: signs, their bar colours and how to draw the landmarks."""
        colors = ["rgb({2},{1},{0})".format(*c) for c in bar_colors(len(self.detector.signs))]
        return {"type": "hello", "signs": self.detector.signs, "colors": colors, "styles": drawing_styles(),
                "fps": config.FPS, "max_frame_bytes": MAX_FRAME_BYTES, "frame_box": FRAME_BOX,
                "length": config.SEQUENCE_LENGTH, "max_sequences": MAX_SEQUENCES, "pause": PAUSE}

    def frame(self, data):
        """A JPEG frame -> the result message (SignlangError for a frame that is not usable)."""
        image = decode_frame(data)
        _, results = kp.mediapipe_detection(image, self.holistic)
        keypoints = kp.extract_keypoints(results)
        now = time.monotonic()
        sign = self.detector.push(keypoints, now)  # a slow browser or machine: filled up to config.FPS
        self.times.append(now)
        probs = self.detector.sign_probs()
        message = {"type": "result", "landmarks": landmarks(keypoints), "size": [image.shape[1], image.shape[0]],
                   "probs": None if probs is None else [round(float(p), 4) for p in probs],
                   "signs": self.detector.signs, "sentence": list(self.detector.words), "sign": sign,
                   "fps": round((len(self.times) - 1) / (now - self.times[0]), 1) if len(self.times) > 1 else None}
        if self.recording is not None:
            try:
                message["recording"] = self.recording.push(keypoints, now)
            except OSError as error:
                folder, self.recording = self.recording.action_dir, None
                raise SignlangError(f"{folder}: cannot write the recording ({error.strerror or error})") from None
            if self.recording.done:
                self.recording = None
        return message

    def command(self, message):
        """A control message from the page -> the reply. record: {action, sequences}; stop; clear."""
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "record":
            action, sequences = message.get("action"), message.get("sequences")
            check_action(action if isinstance(action, str) else "")
            if not isinstance(sequences, int) or isinstance(sequences, bool) or not 1 <= sequences <= MAX_SEQUENCES:
                raise SignlangError(f"the number of sequences must be a whole number from 1 to {MAX_SEQUENCES}")
            self.recording = Recording(self.data_path / action, action, sequences)
            return {"type": "recording", "recording": self.recording.status(starting=True)}
        if kind == "stop":  # as q in `collect`: the sequence in progress is dropped, finished ones are kept
            status = self.recording.status(stopped=True) if self.recording else None
            self.recording = None
            return {"type": "recording", "recording": status}
        if kind == "clear":
            self.detector = self._detector()
            return {"type": "cleared"}
        raise ValueError(f"unknown message type {kind!r}")
