"""MediaPipe Holistic -> the tutorial's 1662 keypoint values per frame, and its landmark drawing."""

import cv2
import numpy as np

from signlang import config
from signlang.errors import SignlangError
from signlang.layout import FACE_SIZE, HAND_SIZE, POSE_SIZE

try:
    from mediapipe.python.solutions import drawing_utils as mp_drawing
    from mediapipe.python.solutions import holistic as mp_holistic
except Exception as _error:  # MediaPipe 0.10.30+ has no solutions; mismatched protobuf/numpy fail in here too
    raise SignlangError(f"mediapipe: Holistic cannot be imported ({type(_error).__name__}: {_error}); "
                        "signlang needs mediapipe==0.10.21: run `signlang doctor`") from _error


def open_holistic(static_image_mode=False):
    """Holistic with the tutorial's settings; use it in a `with` block, which closes the graph."""
    return mp_holistic.Holistic(
        static_image_mode=static_image_mode,
        model_complexity=config.MODEL_COMPLEXITY,
        min_detection_confidence=config.MIN_DETECTION_CONFIDENCE,
        min_tracking_confidence=config.MIN_TRACKING_CONFIDENCE,
    )


def mediapipe_detection(image, model):
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    image.flags.writeable = False  # lets MediaPipe read the buffer without a copy
    results = model.process(image)
    image.flags.writeable = True
    image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return image, results


def _xyz(landmarks, size):
    if landmarks is None:
        return np.zeros(size, dtype=np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32).ravel()


def extract_keypoints(results):
    """The tutorial's 1662 values: pose (x, y, z, visibility), face, left hand, right hand (x, y, z); a part
    not detected is zeros. Tuples of attributes, as the tutorial writes it: twice as fast as getattr."""
    pose = np.zeros(POSE_SIZE, dtype=np.float32) if results.pose_landmarks is None else np.array(
        [(p.x, p.y, p.z, p.visibility) for p in results.pose_landmarks.landmark], dtype=np.float32).ravel()
    return np.concatenate([pose, _xyz(results.face_landmarks, FACE_SIZE), _xyz(results.left_hand_landmarks, HAND_SIZE),
                           _xyz(results.right_hand_landmarks, HAND_SIZE)])


def _spec(color, thickness, radius):
    return mp_drawing.DrawingSpec(color=color, thickness=thickness, circle_radius=radius)


# The tutorial's colours (BGR): part, connections as index pairs, landmark spec, connection spec.
STYLES = (
    ("face_landmarks", np.array(sorted(mp_holistic.FACEMESH_TESSELATION)), _spec((80, 110, 10), 1, 1), _spec((80, 256, 121), 1, 1)),
    ("pose_landmarks", np.array(sorted(mp_holistic.POSE_CONNECTIONS)), _spec((80, 22, 10), 2, 4), _spec((80, 44, 121), 2, 2)),
    ("left_hand_landmarks", np.array(sorted(mp_holistic.HAND_CONNECTIONS)), _spec((121, 22, 76), 2, 4), _spec((121, 44, 250), 2, 2)),
    ("right_hand_landmarks", np.array(sorted(mp_holistic.HAND_CONNECTIONS)), _spec((245, 117, 66), 2, 4), _spec((245, 66, 230), 2, 2)),
)


def draw_styled_landmarks(image, results):
    for part, pairs, landmark_spec, connection_spec in STYLES:
        _draw(image, getattr(results, part), pairs, landmark_spec, connection_spec)


def _draw(image, landmarks, pairs, landmark_spec, connection_spec):
    """mp_drawing.draw_landmarks, same pixels, with one OpenCV call for all the lines.

    MediaPipe draws the face mesh's 2556 connections one cv2.line at a time (12-16 ms a frame here),
    which slows the real-time loop more than the model does.
    """
    if landmarks is None:
        return
    height, width = image.shape[:2]
    points = np.array([(lm.x, lm.y, lm.visibility if lm.HasField("visibility") else 1.0,
                        lm.presence if lm.HasField("presence") else 1.0) for lm in landmarks.landmark])
    shown = (points[:, :2] >= 0).all(axis=1) & (points[:, :2] <= 1).all(axis=1) & (points[:, 2:] >= 0.5).all(axis=1)
    pixels = np.minimum(np.floor(points[:, :2] * (width, height)), (width - 1, height - 1)).astype(np.int32)
    pairs = pairs[shown[pairs].all(axis=1)]
    cv2.polylines(image, list(pixels[pairs]), False, connection_spec.color, connection_spec.thickness)
    border = max(landmark_spec.circle_radius + 1, int(landmark_spec.circle_radius * 1.2))
    for x, y in pixels[shown]:
        cv2.circle(image, (int(x), int(y)), border, mp_drawing.WHITE_COLOR, landmark_spec.thickness)
        cv2.circle(image, (int(x), int(y)), landmark_spec.circle_radius, landmark_spec.color, landmark_spec.thickness)
