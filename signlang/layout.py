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
