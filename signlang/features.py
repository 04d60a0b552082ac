"""The shipped recipe's first layer: raw MP_Data frames -> person- and camera-independent features.

`Normalize` is a Keras layer inside the saved model (registered as "signlang>Normalize", the name action.h5
files record), so a model file takes raw (30, 1662) windows and carries its own preprocessing.
"""

import keras
from keras import layers, ops

from signlang import config
from signlang.layout import FACE, HAND_LANDMARKS, LEFT_HAND, POSE, POSE_LANDMARKS, RIGHT_HAND

# Pose landmarks that carry the sign: nose, eyes, ears, mouth, shoulders, elbows, wrists (MediaPipe 0..16).
UPPER_BODY = 17
L_SHOULDER, R_SHOULDER = 11, 12
SHOULDERS = (L_SHOULDER, R_SHOULDER)  # the body's frame (position, scale) is measured from these
L_WRIST, R_WRIST = 15, 16             # pose.PoseLandmark's wrists: where Holistic looks for each hand
WRIST, MIDDLE_MCP = 0, 9
HAND_FRAME = (WRIST, MIDDLE_MCP)      # ... and each hand's from these
# Face mesh landmarks: forehead top, chin, the two cheek edges. The model reads only these (for the aspect).
FACE_TOP, FACE_CHIN, FACE_LEFT, FACE_RIGHT = 10, 152, 234, 454
FACE_ASPECT = [FACE_TOP, FACE_CHIN, FACE_LEFT, FACE_RIGHT]
FACE_HEIGHT_PER_WIDTH = 1.18  # forehead-chin height / cheek-cheek width in pixels, about the same for everyone
FINGERTIPS = [4, 8, 12, 16, 20]  # hands.HandLandmark's *_TIP (HandShape)
EPS = 1e-3                       # smallest shoulder width and palm length (image units; HandShape)
HAND_SHAPE_SIZE = 2 * 2 * (HAND_LANDMARKS * 2 + len(FINGERTIPS)) + 2  # HandShape's 190 values
# Two hands whose landmarks are this close on average (in shoulder widths) are one hand found twice: in the
# shared recordings that distance has a mode under 0.02 (copies), few frames at 0.07-0.11 and real hands from
# 0.11 on (touching each other).
GHOST_APART = 0.1


@keras.saving.register_keras_serializable(package="signlang")
class Normalize(layers.Layer):
    """Raw MP_Data frames -> person- and camera-independent features, per frame.

    MediaPipe divides x by the image width and y by its height, so shapes depend on the camera's aspect
    ratio (a portrait phone squeezes y by 3 against a 16:9 webcam). The aspect is read off the face,
    whose forehead-to-chin / cheek-to-cheek ratio is about the same for everyone, and y is divided by it
    first so all lengths below are in one unit. Then pose and wrists are expressed relative to the
    shoulder midpoint in shoulder widths (averaged over the window's frames that have a pose, so a
    camera's distance and framing cancel out); each hand's shape is relative to its wrist in units of its
    own palm length. Beyond that the face mesh identifies the person, not the sign, and is dropped (face
    points as features lowered leave-people-out accuracy; the pose has nose, eyes and mouth). A missing
    part (all zeros in MP_Data) gives zero features plus a presence flag, and so does a part without the
    landmarks its features are measured from (_found). Standard ops only, so the model converts to LiteRT.
    """

    def call(self, frames):
        frames = _without_ghost_hand(frames)
        aspect = _aspect(frames)
        pose = _isotropic(ops.reshape(frames[..., POSE], (-1, config.SEQUENCE_LENGTH, POSE_LANDMARKS, 4)),
                          aspect)[..., :2]
        pose_present = _found(frames[..., POSE], 4, SHOULDERS)
        centre, scale = _body_frame(pose, pose_present)
        body = (pose[:, :, :UPPER_BODY] - centre[:, None, None]) / scale[:, None, None, None]
        body = ops.reshape(body * pose_present[..., None, None], (-1, config.SEQUENCE_LENGTH, UPPER_BODY * 2))
        hands = [_hand_features(frames[..., part], aspect, centre, scale) for part in (LEFT_HAND, RIGHT_HAND)]
        return ops.concatenate([body, pose_present[..., None]] + hands, axis=-1)


def _found(block, stride, landmarks):
    """1.0 for frames where a part's values (stride per landmark) hold all the given landmarks (x or y not
    zero), else 0.0. MediaPipe gives a part whole, or zeros when not found; a part with only some of its
    values is a damaged record (saved in another order, then partly cleared), whose zeros read as points
    gave nonsense: so the landmarks its features are measured from decide."""
    points = ops.stack([block[..., stride * i:stride * i + 2] for i in landmarks], axis=-2)
    return ops.min(ops.cast(ops.any(ops.not_equal(points, 0), axis=-1), "float32"), axis=-1)


def _without_ghost_hand(frames):
    """Frames (batch, time, 1662) with the second copy of a hand cleared.

    Holistic looks for each hand near its pose wrist; when both searches land on the same hand (a hand held
    up near the face or the other wrist, one arm out of view), both hand slots hold it: in 3 % of the frames
    of the shared thanks recordings, 0.2 % of hello's and iloveyou's, and 30 % of a clip of a held thumbs-up
    that networks take for thanks. Where the two hands' landmarks are GHOST_APART shoulder widths apart or
    closer on average, the copy whose wrist is farther from its own pose wrist is cleared (as not found).
    Frames without a pose keep both.
    """
    pose = ops.reshape(frames[..., POSE], (-1, config.SEQUENCE_LENGTH, POSE_LANDMARKS, 4))[..., :2]
    left, right = (ops.reshape(frames[..., part], (-1, config.SEQUENCE_LENGTH, HAND_LANDMARKS, 3))[..., :2]
                   for part in (LEFT_HAND, RIGHT_HAND))
    width = ops.norm(pose[:, :, L_SHOULDER] - pose[:, :, R_SHOULDER], axis=-1)
    apart = ops.mean(ops.norm(left - right, axis=-1), axis=-1)
    both = _found(frames[..., LEFT_HAND], 3, HAND_FRAME) * _found(frames[..., RIGHT_HAND], 3, HAND_FRAME)
    ghost = both * ops.cast(apart < GHOST_APART * width, "float32")
    left_astray = ops.cast(ops.norm(left[:, :, WRIST] - pose[:, :, L_WRIST], axis=-1)
                           > ops.norm(right[:, :, WRIST] - pose[:, :, R_WRIST], axis=-1), "float32")
    keep_left, keep_right = 1 - ghost * left_astray, 1 - ghost * (1 - left_astray)
    return ops.concatenate([frames[..., :LEFT_HAND.start], frames[..., LEFT_HAND] * keep_left[..., None],
                            frames[..., RIGHT_HAND] * keep_right[..., None]], axis=-1)


def _face_point(frames, i):
    return frames[..., FACE.start + 3 * i:FACE.start + 3 * i + 2]


def _aspect(frames):
    """The camera's width/height ratio per window (batch,), from the face; 4:3 when no frame has a face."""
    present = _found(frames[..., FACE], 3, FACE_ASPECT)
    height = ops.abs(_face_point(frames, FACE_TOP)[..., 1] - _face_point(frames, FACE_CHIN)[..., 1])
    width = ops.abs(_face_point(frames, FACE_LEFT)[..., 0] - _face_point(frames, FACE_RIGHT)[..., 0])
    ratio = ops.sum(height * present, axis=1) / ops.maximum(ops.sum(width * present, axis=1), 1e-3)
    none = ops.cast(ops.equal(ops.sum(present, axis=1), 0), "float32")
    return ops.clip((1 - none) * ratio / FACE_HEIGHT_PER_WIDTH + none * 4 / 3, 0.4, 2.5)


def _isotropic(points, aspect):
    """y / aspect: x and y both in image widths. points (batch, time, n, 3 or 4), the rest kept as is."""
    return ops.concatenate([points[..., :1], points[..., 1:2] / aspect[:, None, None, None], points[..., 2:]],
                           axis=-1)


def _body_frame(pose, present):
    """Shoulder midpoint (batch, 2) and shoulder width (batch,), averaged over frames that have a pose."""
    left, right = pose[:, :, L_SHOULDER], pose[:, :, R_SHOULDER]
    width = ops.sqrt(ops.sum(ops.square(left - right), axis=-1))
    count = ops.sum(present, axis=1)
    centre = ops.sum((left + right) / 2 * present[..., None], axis=1) / ops.maximum(count, 1.0)[:, None]
    scale = ops.sum(width * present, axis=1) / ops.maximum(count, 1.0)
    # No pose in the whole window: image centre and a typical shoulder width stand in.
    none = ops.cast(ops.equal(count, 0), "float32")
    return centre + none[:, None] * 0.5, ops.maximum(scale + none * 0.25, 1e-3)


def _hand_features(block, aspect, centre, scale):
    present = _found(block, 3, HAND_FRAME)[..., None]
    hand = _isotropic(ops.reshape(block, (-1, config.SEQUENCE_LENGTH, HAND_LANDMARKS, 3)), aspect)
    wrist = hand[:, :, WRIST]
    palm = ops.sqrt(ops.sum(ops.square(hand[:, :, MIDDLE_MCP] - wrist), axis=-1, keepdims=True))
    shape = (hand - wrist[:, :, None]) / ops.maximum(palm, 1e-3)[..., None]
    place = (wrist[..., :2] - centre[:, None]) / scale[:, None, None]
    shape = ops.reshape(shape, (-1, config.SEQUENCE_LENGTH, HAND_LANDMARKS * 3))
    return ops.concatenate([shape * present, place * present, present], axis=-1)


@keras.saving.register_keras_serializable(package="signlang")
class HandShape(layers.Layer):
    """Raw MP_Data frames (batch, 30, 1662) -> one window's hand shapes, (batch, 190): not learnt, so it
    describes signs no network was trained on (signlang.enroll) and is the baseline's input (bench/baseline.py).

    Per hand and frame: its 21 points (x, y) relative to the shoulder midpoint in shoulder widths, and its 5
    fingertip-to-wrist distances over palm length; their mean and standard deviation over the frames that
    have that hand; then the share of frames with each hand. A frame without a pose takes the window's mean
    shoulders (no pose at all: the image centre and a width of 0.25).
    """

    def call(self, frames):
        frames = _without_ghost_hand(frames)
        pose = ops.reshape(frames[..., POSE], (-1, config.SEQUENCE_LENGTH, POSE_LANDMARKS, 4))
        centre, width = _frame_shoulders(pose, _found(frames[..., POSE], 4, SHOULDERS))
        parts, shares = [], []
        for part in (LEFT_HAND, RIGHT_HAND):
            hand = ops.reshape(frames[..., part], (-1, config.SEQUENCE_LENGTH, HAND_LANDMARKS, 3))
            present = _found(frames[..., part], 3, HAND_FRAME)
            points = (hand[..., :2] - centre[:, :, None]) / width[:, :, None, None]
            palm = ops.norm(hand[:, :, MIDDLE_MCP] - hand[:, :, WRIST], axis=-1)
            tips = ops.norm(ops.take(hand, FINGERTIPS, axis=2) - hand[:, :, WRIST, None], axis=-1)
            per_frame = ops.concatenate([ops.reshape(points, (-1, config.SEQUENCE_LENGTH, HAND_LANDMARKS * 2)),
                                         tips / ops.maximum(palm, EPS)[..., None]], axis=-1)
            parts += _mean_std(per_frame, present)
            shares.append(ops.mean(present, axis=1, keepdims=True))
        return ops.concatenate(parts + shares, axis=-1)

    def compute_output_shape(self, shape):
        return shape[:-2] + (HAND_SHAPE_SIZE,)


def _frame_shoulders(pose, present):
    """Per-frame shoulder midpoint (batch, time, 2) and width (batch, time); where a frame has no pose
    (present 0), the window's (_body_frame)."""
    left, right = pose[:, :, L_SHOULDER, :2], pose[:, :, R_SHOULDER, :2]
    mean_centre, mean_width = _body_frame(pose[..., :2], present)
    centre = present[..., None] * (left + right) / 2 + (1 - present[..., None]) * mean_centre[:, None]
    width = present * ops.norm(left - right, axis=-1) + (1 - present) * mean_width[:, None]
    return centre, ops.maximum(width, EPS)


def _mean_std(values, present):
    """Mean and standard deviation (batch, d) of values (batch, time, d) over the frames where present; zeros
    when none."""
    weight = present[..., None]
    count = ops.maximum(ops.sum(weight, axis=1), 1.0)
    mean = ops.sum(values * weight, axis=1) / count
    return [mean, ops.sqrt(ops.sum(ops.square(values - mean[:, None]) * weight, axis=1) / count)]
