"""The tutorial's keypoint frame (1662 values) and window layout: sizes and offsets of pose, face and hands.

Pose 33 x (x, y, z, visibility) = 132, face 468 x (x, y, z) = 1404, left hand 21 x 3 = 63, right hand
21 x 3 = 63; a part MediaPipe did not find is all zeros. The landmark counts are MediaPipe Holistic's
(tests/test_keypoints.py checks them against its enums); written out here so the model and the decision
logic read the layout without loading MediaPipe or OpenCV. `pad` makes a clip shorter than a window up to
one, for `extract` and the live detector alike.
"""

import numpy as np

from signlang import config

POSE_LANDMARKS = 33                                     # MediaPipe's pose.PoseLandmark
FACE_LANDMARKS = 468                                    # face_mesh.FACEMESH_NUM_LANDMARKS (Holistic's has no irises)
HAND_LANDMARKS = 21                                     # hands.HandLandmark
POSE_SIZE = POSE_LANDMARKS * 4                          # 132
FACE_SIZE = FACE_LANDMARKS * 3                          # 1404
HAND_SIZE = HAND_LANDMARKS * 3                          # 63
POSE = slice(0, POSE_SIZE)
FACE = slice(POSE.stop, POSE.stop + FACE_SIZE)
LEFT_HAND = slice(FACE.stop, FACE.stop + HAND_SIZE)
RIGHT_HAND = slice(LEFT_HAND.stop, LEFT_HAND.stop + HAND_SIZE)
FRAME_SIZE = RIGHT_HAND.stop                            # 1662


def pad(frames, length=config.SEQUENCE_LENGTH):
    """Frames made up to `length` by repeating the last one (the signer holds the final pose)."""
    missing = length - len(frames)
    return np.concatenate([frames, np.repeat(frames[-1:], missing, axis=0)]) if missing > 0 else frames


def misplaced_share(X):
    """The share of frames in X (..., 1662) whose pose visibilities are not probabilities (0..1, as MediaPipe
    gives them): keypoints saved in another order than the tutorial's (the face first, say) put coordinates
    there, and a model reads them as the wrong body parts."""
    visibility = np.asarray(X)[..., POSE][..., 3::4]
    bad = np.any((visibility < -1e-3) | (visibility > 1 + 1e-3), axis=-1)
    return float(bad.mean()) if bad.size else 0.0


# Other orders of the four parts that copies of the tutorial save, each told apart by where the pose lands.
OTHER_ORDERS = (("face", "pose", "left hand", "right hand"), ("face", "left hand", "right hand", "pose"))
_SIZES = {"pose": POSE_SIZE, "face": FACE_SIZE, "left hand": HAND_SIZE, "right hand": HAND_SIZE}
TUTORIAL_ORDER = ("pose", "face", "left hand", "right hand")


def to_tutorial_order(X, order):
    """X (..., 1662) saved in `order` (names of the four parts), rearranged into the tutorial's layout."""
    ends = np.cumsum([_SIZES[part] for part in order])
    parts = dict(zip(order, np.split(np.asarray(X), ends[:-1], axis=-1)))
    return np.concatenate([parts[part] for part in TUTORIAL_ORDER], axis=-1)


def find_order(X, tolerance=0.01):
    """The order X's keypoints were saved in: the tutorial's when its pose visibilities are probabilities
    (misplaced_share), else the one of OTHER_ORDERS where they are and a pose is found in most frames (a
    block of zeros fits any order), else None (not known)."""
    if misplaced_share(X) <= tolerance:
        return TUTORIAL_ORDER

    def fits(order):
        pose = to_tutorial_order(X, order)[..., POSE]
        return misplaced_share(pose) <= tolerance and np.any(pose != 0, axis=-1).mean() > 0.5

    found = [order for order in OTHER_ORDERS if fits(order)]
    return found[0] if len(found) == 1 else None
