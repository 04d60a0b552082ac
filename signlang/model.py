"""The tutorial's LSTM, the shipped recipe (normalising layer + small temporal conv net), training, saving, loading.

A model file is self-describing: it takes raw (30, 1662) MP_Data windows (all preprocessing is a layer inside
the model) and records its action names in output order as an HDF5 attribute.

The shipped action.h5 is made by one command (about 9 minutes on 2 cores):
    signlang train --data ../shared/data/signers --model action.h5
and bench/unseen.py measures the recipe on people left out of training.
"""

import json
import os
import sys
import time
from pathlib import Path

import h5py
import keras
import numpy as np
from keras import layers, ops
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from signlang import config, keypoints as kp
from signlang.errors import SignlangError

ACTIONS_ATTR = "signlang_actions"  # HDF5 attribute on the saved file: JSON list of action names, output order

# Pose landmarks that carry the sign: nose, eyes, ears, mouth, shoulders, elbows, wrists (MediaPipe 0..16).
UPPER_BODY = 17
L_SHOULDER, R_SHOULDER = 11, 12
WRIST, MIDDLE_MCP = 0, 9
# Left/right pose landmark pairs, swapped when a recording is mirrored (MediaPipe pose topology).
POSE_MIRROR = [0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23,
               26, 25, 28, 27, 30, 29, 32, 31]
# Face mesh landmarks: forehead top, chin, the two cheek edges. The model reads only these (for the aspect).
FACE_TOP, FACE_CHIN, FACE_LEFT, FACE_RIGHT = 10, 152, 234, 454
FACE_ASPECT = [FACE_TOP, FACE_CHIN, FACE_LEFT, FACE_RIGHT]
FACE_HEIGHT_PER_WIDTH = 1.18  # forehead-chin height / cheek-cheek width in pixels, about the same for everyone


# --- the tutorial's model ---------------------------------------------------------------------------

def build_model(n_actions=len(config.ACTIONS)):
    """The tutorial's architecture, layer for layer (raw 1662 keypoints in, softmax over actions out)."""
    model = keras.Sequential([
        keras.Input((config.SEQUENCE_LENGTH, kp.FRAME_SIZE)),
        layers.LSTM(64, return_sequences=True, activation="relu"),
        layers.LSTM(128, return_sequences=True, activation="relu"),
        layers.LSTM(64, return_sequences=False, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(n_actions, activation="softmax"),
    ])
    model.compile(optimizer="Adam", loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    return model


# --- the shipped recipe -----------------------------------------------------------------------------

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
    part (all zeros in MP_Data) gives zero features plus a presence flag. Standard ops only, so the model
    converts to LiteRT.
    """

    def call(self, frames):
        aspect = _aspect(frames)
        pose = _isotropic(ops.reshape(frames[..., kp.POSE], (-1, config.SEQUENCE_LENGTH, kp.POSE_LANDMARKS, 4)),
                          aspect)[..., :2]
        pose_present = _present(frames[..., kp.POSE])
        centre, scale = _body_frame(pose, pose_present)
        body = (pose[:, :, :UPPER_BODY] - centre[:, None, None]) / scale[:, None, None, None]
        body = ops.reshape(body * pose_present[..., None, None], (-1, config.SEQUENCE_LENGTH, UPPER_BODY * 2))
        hands = [_hand_features(frames[..., part], aspect, centre, scale) for part in (kp.LEFT_HAND, kp.RIGHT_HAND)]
        return ops.concatenate([body, pose_present[..., None]] + hands, axis=-1)


def _present(block):
    """1.0 for frames where MediaPipe found the part (MP_Data stores a missing part as zeros), else 0.0."""
    return ops.cast(ops.any(ops.not_equal(block, 0), axis=-1), "float32")


def _face_point(frames, i):
    return frames[..., kp.FACE.start + 3 * i:kp.FACE.start + 3 * i + 2]


def _aspect(frames):
    """The camera's width/height ratio per window (batch,), from the face; 4:3 when no frame has a face."""
    present = _present(frames[..., kp.FACE])
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


def _hand_features(hand, aspect, centre, scale):
    hand = _isotropic(ops.reshape(hand, (-1, config.SEQUENCE_LENGTH, kp.HAND_LANDMARKS, 3)), aspect)
    present = ops.cast(ops.any(ops.not_equal(hand, 0), axis=(-2, -1)), "float32")[..., None]
    wrist = hand[:, :, WRIST]
    palm = ops.sqrt(ops.sum(ops.square(hand[:, :, MIDDLE_MCP] - wrist), axis=-1, keepdims=True))
    shape = (hand - wrist[:, :, None]) / ops.maximum(palm, 1e-3)[..., None]
    place = (wrist[..., :2] - centre[:, None]) / scale[:, None, None]
    shape = ops.reshape(shape, (-1, config.SEQUENCE_LENGTH, kp.HAND_LANDMARKS * 3))
    return ops.concatenate([shape * present, place * present, present], axis=-1)


# Early stopping keeps the shipped recipe's best epoch from here on: the validation loss of a few held-out
# people is noisy, and networks it stopped at epochs 5-13 did worse on new people (exploratory runs, 2 folds).
SHIPPED_START_FROM_EPOCH = 40


def build_recipe(n_actions, width=96, dropout=0.3, name="signlang"):
    """The shipped model: Normalize -> per-frame dense -> two temporal convolutions -> max+mean pooling.

    Pooling over time makes the decision independent of where in the 30 frames the sign happens.
    """
    inputs = keras.Input((config.SEQUENCE_LENGTH, kp.FRAME_SIZE), name="keypoints")
    x = Normalize(name="normalize")(inputs)
    x = layers.Dense(width * 2, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv1D(width, 5, padding="same", activation="relu")(x)
    x = layers.Conv1D(width, 5, padding="same", activation="relu")(x)
    x = layers.Concatenate()([layers.GlobalMaxPooling1D()(x), layers.GlobalAveragePooling1D()(x)])
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(width, activation="relu")(x)
    outputs = layers.Dense(n_actions, activation="softmax", name="actions")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model


# --- augmentation (raw MP_Data space, so it is independent of the model's features) -----------------

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

    pose = X[..., kp.POSE].reshape(b, t, kp.POSE_LANDMARKS, 4)
    face = X[..., kp.FACE].reshape(b, t, kp.FACE_LANDMARKS, 3)
    hands = np.stack([X[..., kp.LEFT_HAND], X[..., kp.RIGHT_HAND]], axis=2).reshape(b, t, 2, kp.HAND_LANDMARKS, 3)
    hands[rng.random((b, t, 2)) < 0.05] = 0  # a hand the detector missed
    mirror = rng.random(b) < 0.5
    pose[mirror] = pose[mirror][:, :, POSE_MIRROR]
    hands[mirror] = hands[mirror][:, :, ::-1]
    face_read = face[:, :, FACE_ASPECT]

    angle = np.radians(rng.uniform(-12, 12, b))
    zoom = rng.uniform(0.85, 1.15, b)
    camera = np.exp(rng.uniform(np.log(0.5), np.log(1.6), b))  # aspect ratio, undone by Normalize via the face
    face_scale = np.stack([zoom, zoom * camera])
    # Body proportions: stretched apart from the face, which Normalize reads the aspect from, so kept.
    body_scale = face_scale * rng.uniform(0.85, 1.15, (2, b))
    shift = rng.uniform(-0.05, 0.05, (b, 2))
    for points, (sx, sy) in ((pose[..., :2], body_scale), (face_read[..., :2], face_scale),
                             (hands[..., :2], body_scale)):
        present = np.any(points != 0, axis=-1, keepdims=True)
        x, y = points[..., 0] - 0.5, points[..., 1] - 0.5
        x = np.where(mirror.reshape((b,) + (1,) * (x.ndim - 1)), -x, x)
        shape = (b,) + (1,) * (x.ndim - 1)
        cos, sin = np.cos(angle).reshape(shape), np.sin(angle).reshape(shape)
        moved = np.stack([(cos * x - sin * y) * sx.reshape(shape) + 0.5 + shift[:, 0].reshape(shape),
                          (sin * x + cos * y) * sy.reshape(shape) + 0.5 + shift[:, 1].reshape(shape)], axis=-1)
        moved += rng.normal(0, 0.003, moved.shape)
        points[...] = np.where(present, moved, 0)
    face[:, :, FACE_ASPECT] = face_read

    X[..., kp.POSE] = pose.reshape(b, t, -1)
    X[..., kp.FACE] = face.reshape(b, t, -1)
    X[..., kp.LEFT_HAND] = hands[:, :, 0].reshape(b, t, -1)
    X[..., kp.RIGHT_HAND] = hands[:, :, 1].reshape(b, t, -1)
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


# --- training ----------------------------------------------------------------------------------------

def split(y, groups, val_fraction=0.2, seed=0):
    """Train/validation indices that never put one group (person, MP_Data folder) on both sides.

    With a single group there is nothing to hold out by person, so the split is stratified by action.
    """
    idx = np.arange(len(y))
    if len(np.unique(groups)) < 2:
        print("signlang: one data group only: validation is a stratified split of its sequences "
              "(the same person is in train and validation)", file=sys.stderr)
        return train_test_split(idx, test_size=val_fraction, stratify=y, random_state=seed)
    return next(GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed).split(idx, y, groups))


def fit(model, X, Y, validation, epochs, batch_size=64, augmented=True, patience=25, callbacks=(), verbose=1,
        seed=0, start_from_epoch=0):
    """Keras fit with early stopping on the validation loss, best weights restored (chosen from
    start_from_epoch on)."""
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True,
                                         start_from_epoch=start_from_epoch, verbose=min(verbose, 1))
    data = Augmented(X, Y, batch_size, seed) if augmented else X
    return model.fit(data, None if augmented else Y, batch_size=None if augmented else batch_size,
                     epochs=epochs, validation_data=validation, callbacks=[stop, *callbacks], verbose=verbose)


def train(data, model_path=config.MODEL_PATH, logdir=config.LOG_DIR, actions=None, recipe="shipped", members=None,
          epochs=150, batch_size=64, patience=25, val_fraction=0.2, seed=0, verbose=1):
    """Trains on a data.Dataset; saves the model and its curve PNG. Returns (model, histories).

    recipe "shipped" is build_recipe with augmentation, "tutorial" the tutorial's LSTM on raw windows.
    members: networks averaged into the saved model (default config.MEMBERS for "shipped", 1 for "tutorial").
    """
    if recipe not in ("shipped", "tutorial"):
        raise SignlangError(f"unknown recipe {recipe!r}: use 'shipped' or 'tutorial'")
    actions = list(actions or data.actions)
    unknown = sorted(set(data.y) - set(actions))
    if unknown:
        raise SignlangError(f"data has actions {unknown} that are not among the actions to train {actions}")
    if len(actions) < 2:
        raise SignlangError(f"training needs at least two actions, the data has {actions}")
    labels = np.array([actions.index(a) for a in data.y])
    Y = np.eye(len(actions), dtype=np.float32)[labels]
    model, histories = fit_members(data.X, Y, data.groups, recipe, members, epochs, batch_size, patience,
                                   val_fraction, seed, Path(logdir) / time.strftime("%Y%m%d-%H%M%S"), verbose)
    save(model, model_path, actions)
    plot_history(histories, Path(model_path).with_suffix(".png"))
    return model, histories


def fit_members(X, Y, groups, recipe="shipped", members=None, epochs=150, batch_size=64, patience=25,
                val_fraction=0.2, seed=0, logdir=None, verbose=1):
    """Trains `members` networks, each on its own by-group split, and averages them into one model.

    Each member holds out different people for early stopping, so together they have seen everyone. One
    network's accuracy on new people swings with its split and seed; their average is steadier
    (bench/unseen.py --members 1 against the default).
    """
    members = members or (config.MEMBERS if recipe == "shipped" else 1)
    shipped = recipe == "shipped"
    nets, histories = [], []
    for m in range(members):
        tr, va = split(Y.argmax(-1), groups, val_fraction, seed + m)
        keras.utils.set_random_seed(seed + m)
        name = "signlang" if members == 1 else f"member_{m + 1}"
        net = build_recipe(Y.shape[1], name=name) if shipped else build_model(Y.shape[1])
        log = [] if logdir is None else [keras.callbacks.TensorBoard(log_dir=str(Path(logdir) / name))]
        histories.append(fit(net, X[tr], Y[tr], (X[va], Y[va]), epochs, batch_size, shipped, patience, log, verbose,
                             seed + m, SHIPPED_START_FROM_EPOCH if shipped else 0))
        nets.append(net)
    return average(nets), histories


def average(models):
    """One model whose output is the mean of the models' probabilities (a single model is returned as is)."""
    if len(models) == 1:
        return models[0]
    inputs = keras.Input((config.SEQUENCE_LENGTH, kp.FRAME_SIZE), name="keypoints")
    return keras.Model(inputs, layers.Average(name="actions")([m(inputs) for m in models]), name="signlang")


def plot_history(histories, path=None):
    """Loss and accuracy curves of one History or a list (one per member), as a matplotlib Figure.

    Saved as PNG when path is given. Built without pyplot, so it never switches a notebook's backend;
    a notebook shows the returned Figure.
    """
    from matplotlib.figure import Figure

    histories = histories if isinstance(histories, (list, tuple)) else [histories]
    fig = Figure(figsize=(9, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "categorical_accuracy")):
        for k, history in enumerate(histories):
            who = f"member {k + 1}: " if len(histories) > 1 else ""
            ax.plot(history.history[metric], color=f"C{k}", label=who + "train")
            ax.plot(history.history["val_" + metric], color=f"C{k}", linestyle="--",
                    label=who + "validation (unseen groups)")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=max(len(histories), 2),
               fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=80)
    return fig


# --- saving and loading ------------------------------------------------------------------------------

def save(model, path, actions):
    """Saves as HDF5 (the tutorial's action.h5) and records the action names in output order."""
    if model.output_shape[-1] != len(actions):
        raise SignlangError(f"{path}: model has {model.output_shape[-1]} outputs but {len(actions)} actions given")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.h5")  # atomic: a crash never leaves half a model
    model.save(tmp)
    with h5py.File(tmp, "a") as f:
        f.attrs[ACTIONS_ATTR] = json.dumps(list(actions))
    os.replace(tmp, path)


class _Keras2LSTM(layers.LSTM):
    """Reads LSTM configs written by Keras 2 (the tutorial's TensorFlow 2.x), which carry `time_major`."""

    def __init__(self, *args, time_major=False, **kwargs):
        super().__init__(*args, **kwargs)


def load_model(path):
    """The Keras model in an action.h5 written by this project or by the tutorial's own model.save."""
    path = Path(path)
    if not path.is_file():
        raise SignlangError(f"{path}: no such model file")
    try:
        return keras.models.load_model(path, compile=False, custom_objects={"LSTM": _Keras2LSTM})
    except Exception as e:  # Keras raises many types for a foreign or damaged file
        raise SignlangError(f"{path}: not a loadable Keras model ({type(e).__name__}: {e})") from e


def load_actions(path, model=None):
    """Action names in the model's output order: those recorded in the file, else the tutorial's when
    the output size matches (a model saved by the tutorial's notebook records none)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            recorded = f.attrs.get(ACTIONS_ATTR)
    except OSError as e:
        raise SignlangError(f"{path}: not an HDF5 model file ({e})") from e
    outputs = (model or load_model(path)).output_shape[-1]
    actions = json.loads(recorded) if recorded is not None else list(config.ACTIONS)
    if len(actions) != outputs:
        source = "records" if recorded is not None else "records no action names and config.ACTIONS has"
        raise SignlangError(f"{path}: has {outputs} outputs but {source} {len(actions)} actions {actions}")
    return actions
