"""'No sign' training windows built from a person's own sign recordings.

A model must also learn what not signing looks like: hands at rest or out of view, the moments before a
sign starts and after it ends. Real recordings of people not signing are best (an `idle` folder);
these windows add the same situations for every person, cut from their sign recordings, so a model
trained on three folders learns them too. Tried and left out (exploratory runs on people held out):
a sign's frame frozen for a whole window (iloveyou *is* a held handshape), and the join of two
signs' halves, which taught the model that any two signs back to back are "no sign".
"""

import numpy as np

from signlang import config, layout as kp
from signlang.features import L_SHOULDER, R_SHOULDER

# Arms at rest, relative to the shoulder midpoint in shoulder widths (x away from the body's middle on
# the arm's own side, y down): medians over the shared `idle` recordings. Pose landmarks 13-22
# (elbows, wrists, pinky/index/thumb knuckles), MediaPipe's PoseLandmark order.
REST_ARM = {13: (0.70, 0.85), 14: (0.70, 0.85), 15: (0.69, 1.55), 16: (0.69, 1.55),
            17: (0.75, 1.80), 18: (0.75, 1.80), 19: (0.66, 1.80), 20: (0.66, 1.80),
            21: (0.61, 1.70), 22: (0.61, 1.70)}


def at_rest(frames, rng):
    """The frames with both hands out of view and the arms hanging down (random per window)."""
    frames = frames.copy()
    frames[..., kp.LEFT_HAND] = 0
    frames[..., kp.RIGHT_HAND] = 0
    pose = frames[..., kp.POSE].reshape(len(frames), kp.POSE_LANDMARKS, 4)
    present = pose.any(axis=(-2, -1))
    left, right = pose[:, L_SHOULDER, :2], pose[:, R_SHOULDER, :2]
    centre, width = (left + right) / 2, np.abs(left[:, 0] - right[:, 0])[:, None]
    drop = rng.uniform(0.8, 1.25)
    for i, (dx, dy) in REST_ARM.items():
        side = np.sign((left if i % 2 else right)[:, 0] - centre[:, 0])[:, None]
        point = centre + width * np.concatenate([side * dx, np.full_like(side, dy * drop)], axis=-1)
        pose[present, i, :2] = (point + rng.normal(0, 0.01, point.shape))[present]
        pose[present, i, 3] = rng.uniform(0.02, 0.3)
    frames[..., kp.POSE] = pose.reshape(len(frames), -1)
    return frames


def windows(X, groups, rng, share=config.NO_SIGN_SHARE):
    """About share x len(X) 'no sign' windows, and their groups, from sign sequences X (n, 30, 1662),
    each made from one group's (person's) own recordings, half of each kind:
    - rest: a sequence with the hands out of view and the arms down (the person and camera stay);
    - onset / offset: rest, then the first 3-9 frames of a sign, or a sign's last 3-9 frames, then rest.
    """
    length = X.shape[1]
    made, made_groups = [], []
    for group in np.unique(groups):
        own = np.flatnonzero(groups == group)
        for _ in range(int(round(share * len(own)))):
            sign = X[rng.choice(own)]
            if rng.random() < 0.5:
                window = at_rest(sign, rng)
            else:
                k = rng.integers(3, 10)
                rest = at_rest(np.repeat(sign[:1] if rng.random() < 0.5 else sign[-1:], length, axis=0), rng)
                window = (np.concatenate([rest[k:], sign[:k]]) if rng.random() < 0.5
                          else np.concatenate([sign[-k:], rest[:length - k]]))
            made.append(window)
            made_groups.append(group)
    if not made:
        return X[:0], groups[:0]
    return np.stack(made).astype(X.dtype), np.array(made_groups, dtype=groups.dtype)
