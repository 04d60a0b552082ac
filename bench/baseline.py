"""The simple baseline of issue 9, the reference our network is benchmarked against side by side.

Hand-shape features per window: each hand's 21 points (x, y) relative to the shoulder centre in shoulder
widths, and its 5 fingertip-to-wrist distances over palm length; their mean and standard deviation over
the frames with that hand, plus the share of frames with each hand. A scikit-learn
HistGradientBoostingClassifier learns the signs from them.

Run as a script, it trains on the first 80 % of the people in the shared data (by file name) and prints
the accuracy on the rest, and the time `features` takes on 10,000 windows.
"""

import argparse
import glob
import io
import lzma
import os
import time
from pathlib import Path

import numpy as np
from keras import ops
from sklearn.ensemble import HistGradientBoostingClassifier

from signlang.features import HAND_SHAPE_SIZE, HandShape

BATCH = 4096  # windows per HandShape call: the (n, 30, 1662) copies stay small


def features(X):
    """Windows (n, 30, 1662) -> hand-shape features (n, 190) float32 (signlang.features.HandShape)."""
    shape = HandShape()
    return np.concatenate([ops.convert_to_numpy(shape(np.asarray(X[i:i + BATCH], np.float32)))
                           for i in range(0, len(X), BATCH)]) if len(X) else np.zeros((0, HAND_SHAPE_SIZE), np.float32)


class Baseline:
    """features() -> HistGradientBoostingClassifier; predicts class probabilities."""

    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, X, labels, n_classes=None):
        """Train on windows X and int class ids 0..k-1 (k = n_classes, default max(labels) + 1)."""
        labels = np.asarray(labels)
        self.n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
        self.model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, early_stopping=False,
                                                    random_state=self.seed)
        self.model.fit(features(X), labels)
        return self

    def predict_proba(self, X):
        """Windows (n, 30, 1662) -> probabilities (n, k) float32; zeros for classes absent from fit."""
        proba = np.zeros((len(X), self.n_classes), dtype=np.float32)
        classes = self.model.classes_
        if len(classes) == 1:                    # fitted on one class: sklearn's probabilities are not per class
            proba[:, classes[0]] = 1
        else:
            proba[:, classes] = self.model.predict_proba(features(X))
        return proba

    def __call__(self, window):
        """One window (30, 1662) -> probabilities (k,)."""
        return self.predict_proba(np.asarray(window)[None])[0]


def _load(path):
    with lzma.open(path) as f:
        data = np.load(io.BytesIO(f.read()))
    return data["X"], data["y"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=Path(__file__).resolve().parents[1].parent / "shared/data/signers",
                        help="folder of per-person .npz.xz files")
    args = parser.parse_args()

    paths = sorted(glob.glob(os.path.join(args.data, "*.npz.xz")))
    split = int(0.8 * len(paths))
    train = [_load(p) for p in paths[:split]]
    test = [_load(p) for p in paths[split:]]
    signs = sorted({s for _, y in train for s in y})
    X_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([np.searchsorted(signs, y) for _, y in train])
    X_test = np.concatenate([x for x, _ in test])
    y_test = np.concatenate([np.searchsorted(signs, y) for _, y in test])
    print(f"people: {split} train ({len(X_train)} windows), {len(paths) - split} test ({len(X_test)} windows); "
          f"signs {signs}")

    start = time.process_time()
    model = Baseline().fit(X_train, y_train, n_classes=len(signs))
    accuracy = (model.predict_proba(X_test).argmax(axis=1) == y_test).mean()
    print(f"accuracy on unseen people: {accuracy:.3f} (fit + predict {time.process_time() - start:.0f} s CPU)")

    windows = np.resize(np.concatenate([X_train, X_test]), (10_000, *X_train.shape[1:]))
    start = time.perf_counter()
    features(windows)
    print(f"features() on 10,000 windows: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
