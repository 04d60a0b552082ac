"""Real MediaPipe Holistic on real clips: the tutorial's 1662-value layout."""

import numpy as np
import pytest

from mediapipe.python.solutions import face_mesh, hands, pose

from signlang import keypoints, layout
from signlang.sources import open_source

# The tutorial's layout, written out by hand so the package's constants are checked against it.
POSE, FACE, LH, RH = slice(0, 132), slice(132, 1536), slice(1536, 1599), slice(1599, 1662)


@pytest.fixture(scope="module")
def detections(clips):
    """(image, results, keypoints) of every sampled frame of the 'hello' clip."""
    out = []
    with keypoints.open_holistic() as model:
        for frame in open_source(clips["hello"]):
            image, results = keypoints.mediapipe_detection(frame.image, model)
            out.append((image, results, keypoints.extract_keypoints(results)))
    return out


def test_layout_constants_match_the_tutorial_and_mediapipe():
    assert layout.FRAME_SIZE == 1662
    assert (layout.POSE, layout.FACE, layout.LEFT_HAND, layout.RIGHT_HAND) == (POSE, FACE, LH, RH)
    assert (layout.POSE_LANDMARKS, layout.FACE_LANDMARKS, layout.HAND_LANDMARKS) == (
        len(pose.PoseLandmark), face_mesh.FACEMESH_NUM_LANDMARKS, len(hands.HandLandmark))


def test_keypoints_follow_the_tutorial_layout(detections):
    checked = 0
    for _, results, values in detections:
        assert values.shape == (1662,) and values.dtype == np.float32
        parts = [(results.pose_landmarks, POSE, ("x", "y", "z", "visibility")),
                 (results.face_landmarks, FACE, ("x", "y", "z")),
                 (results.left_hand_landmarks, LH, ("x", "y", "z")),
                 (results.right_hand_landmarks, RH, ("x", "y", "z"))]
        for landmarks, block, fields in parts:
            if landmarks is None:
                assert not values[block].any()
                continue
            expected = [getattr(lm, f) for lm in landmarks.landmark for f in fields]
            np.testing.assert_allclose(values[block], expected, rtol=1e-6)
            checked += 1
    assert checked >= 2.5 * len(detections)  # pose and face in every frame, a hand in most


def test_pose_visibility_is_a_probability(detections):
    visibility = np.stack([v[POSE].reshape(33, 4)[:, 3] for _, _, v in detections])
    assert visibility.min() >= 0 and visibility.max() <= 1 and visibility.max() > 0.5


@pytest.mark.parametrize("label", ["hello", "thanks", "iloveyou"])
def test_hands_found_in_signing_clips(clips, label):
    with keypoints.open_holistic() as model:
        found = [keypoints.extract_keypoints(keypoints.mediapipe_detection(f.image, model)[1]) for f in open_source(clips[label])]
    hands = np.stack(found)[:, LH.start:RH.stop].any(axis=1)
    assert hands.mean() > 0.5, f"{label}: a hand in only {hands.mean():.0%} of frames"


def test_missing_parts_are_zeros():
    blank = np.full((480, 640, 3), 127, np.uint8)
    with keypoints.open_holistic(static_image_mode=True) as model:
        image, results = keypoints.mediapipe_detection(blank, model)
    assert image.shape == blank.shape
    values = keypoints.extract_keypoints(results)
    assert values.shape == (1662,) and not values.any()


def test_draw_styled_landmarks_uses_the_tutorial_colours(detections):
    image, results, values = next(d for d in detections if d[1].right_hand_landmarks is not None)
    before = image.copy()
    keypoints.draw_styled_landmarks(image, results)
    assert (image != before).any()
    for colour in [(245, 117, 66), (80, 22, 10)]:  # right-hand and pose landmark dots, BGR
        assert (image == colour).all(axis=2).any(), f"no pixel of colour {colour}"


def test_drawing_matches_mediapipe_drawing_pixel_for_pixel(detections):
    """The fast drawing must look exactly like the tutorial's mp_drawing.draw_landmarks calls."""
    from mediapipe.python.solutions import drawing_utils as du, holistic as mh
    spec = du.DrawingSpec
    tutorial = [("face_landmarks", mh.FACEMESH_TESSELATION, spec((80, 110, 10), 1, 1), spec((80, 256, 121), 1, 1)),
                ("pose_landmarks", mh.POSE_CONNECTIONS, spec((80, 22, 10), 2, 4), spec((80, 44, 121), 2, 2)),
                ("left_hand_landmarks", mh.HAND_CONNECTIONS, spec((121, 22, 76), 2, 4), spec((121, 44, 250), 2, 2)),
                ("right_hand_landmarks", mh.HAND_CONNECTIONS, spec((245, 117, 66), 2, 4), spec((245, 66, 230), 2, 2))]
    for image, results, _ in detections[::4]:
        ours, theirs = image.copy(), image.copy()
        keypoints.draw_styled_landmarks(ours, results)
        for part, connections, landmark_spec, connection_spec in tutorial:
            du.draw_landmarks(theirs, getattr(results, part), connections, landmark_spec, connection_spec)
        np.testing.assert_array_equal(ours, theirs)
