"""Augmentation in raw MP_Data space (so it is independent of the model's features): new training windows
from recorded ones, re-timed, mirrored, rotated and stretched, with parts the detector missed.
"""

import keras
import numpy as np

from signlang.features import FACE_ASPECT
from signlang.layout import FACE, HAND_LANDMARKS, LEFT_HAND, POSE, POSE_LANDMARKS, RIGHT_HAND

# The columns of the face landmarks the model reads (features.FACE_ASPECT): (4, 3).
FACE_READ = FACE.start + 3 * np.array(FACE_ASPECT)[:, None] + np.arange(3)
# Left/right pose landmark pairs, swapped when a recording is mirrored (MediaPipe pose topology).
POSE_MIRROR = [0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23,
               26, 25, 28, 27, 30, 29, 32, 31]


def augment(X, rng):
    """Randomly re-timed, mirrored, rotated/stretched, partly undetected copies of raw windows (b, 30, 1662).

    Re-timing covers signers of different speeds and camera rates, and windows where the sign fills only
    part of the 30 frames with the edge frame repeated (as the live detector sees them). Mirroring
    (x -> 1 - x, left/right hands and pose sides swapped) makes left-handed signers look like right-handed
    ones. The y stretch stands for cameras of other aspect ratios (portrait phones to wide webcams). Of the
    face only the landmarks the model reads move with the rest (moving all 468 would slow training).
    """
    b, t = X.shape[:2]
    speed = rng.uniform(0.7, 1.4, (b, 1))
    centre = (t - 1) / 2 + rng.uniform(-6, 6, (b, 1))
    src = np.clip(np.rint(centre + (np.arange(t) - (t - 1) / 2) * speed), 0, t - 1).astype(int)
    X = X[np.arange(b)[:, None], src]

    pose = X[..., POSE].reshape(b, t, POSE_LANDMARKS, 4)
    hands = np.stack([X[..., LEFT_HAND], X[..., RIGHT_HAND]], axis=2).reshape(b, t, 2, HAND_LANDMARKS, 3)
    hands[rng.random((b, t, 2)) < 0.05] = 0  # a hand the detector missed
    mirror = rng.random(b) < 0.5
    pose[mirror] = pose[mirror][:, :, POSE_MIRROR]
    hands[mirror] = hands[mirror][:, :, ::-1]
    face_read = X[..., FACE_READ]  # (b, t, 4, 3); gathering only these spares copying the whole mesh

    angle = np.radians(rng.uniform(-12, 12, b))
    zoom = rng.uniform(0.85, 1.15, b)
    camera = np.exp(rng.uniform(np.log(0.5), np.log(1.6), b))  # aspect ratio, undone by Normalize via the face
    face_scale = np.stack([zoom, zoom * camera])
    # Body proportions: stretched apart from the face, which Normalize reads the aspect from, so kept.
    body_scale = face_scale * rng.uniform(0.85, 1.15, (2, b))
    shift = rng.uniform(-0.05, 0.05, (b, 2))
    for points, (sx, sy) in ((pose[..., :2], body_scale), (face_read[..., :2], face_scale),
                             (hands[..., :2], body_scale)):
        present = (points[..., :1] != 0) | (points[..., 1:] != 0)  # np.any over 2 values was a tenth of the time
        x, y = points[..., 0] - 0.5, points[..., 1] - 0.5
        x = np.where(mirror.reshape((b,) + (1,) * (x.ndim - 1)), -x, x)
        shape = (b,) + (1,) * (x.ndim - 1)
        cos, sin = np.cos(angle).reshape(shape), np.sin(angle).reshape(shape)
        moved = np.stack([(cos * x - sin * y) * sx.reshape(shape) + 0.5 + shift[:, 0].reshape(shape),
                          (sin * x + cos * y) * sy.reshape(shape) + 0.5 + shift[:, 1].reshape(shape)], axis=-1)
        moved += rng.normal(0, 0.003, moved.shape)
        np.copyto(points, moved, where=present)  # points not found stay zeros
    X[..., POSE] = pose.reshape(b, t, -1)
    X[..., FACE_READ] = face_read
    X[..., LEFT_HAND] = hands[:, :, 0].reshape(b, t, -1)
    X[..., RIGHT_HAND] = hands[:, :, 1].reshape(b, t, -1)
    return X


class Augmented(keras.utils.PyDataset):
    """Shuffled batches of freshly augmented windows, new ones every epoch."""

    def __init__(self, X, Y, batch_size, seed=0):
        super().__init__()
        self.X, self.Y, self.batch_size = X, Y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(X))

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return augment(self.X[idx], self.rng), self.Y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.X))

    def release(self):
        """Drops the windows (after fitting: TensorFlow's from_generator keeps the dataset referenced)."""
        self.X = self.Y = None
