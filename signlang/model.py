"""The model files: the tutorial's LSTM, the shipped recipe (Normalize layer + small temporal conv net),
averaging networks into one model, saving and loading.

A model file is self-describing: it takes raw (30, 1662) MP_Data windows (all preprocessing is a layer inside
the model, signlang.features) and records its action names in output order, and which one means "no sign",
as HDF5 attributes.

The shipped action.h5 is made by one command (about 14 minutes on 2 cores, signlang.train):
    signlang train --data ../shared/data/signers ../shared/data/more_signs --actions hello thanks iloveyou --model action.h5
and bench/unseen.py measures the recipe on people left out of training.
"""

import json
from pathlib import Path

import h5py
import keras
from keras import layers

from signlang import config, veto
from signlang.atomic import atomic_path
from signlang.newsigns import NewSigns  # noqa: F401  (registered: load_model reads models with added signs)
from signlang.errors import SignlangError
from signlang.features import Normalize
from signlang.layout import FRAME_SIZE

ACTIONS_ATTR = "signlang_actions"  # HDF5 attribute on the saved file: JSON list of action names, output order
NO_SIGN_ATTR = "signlang_no_sign"  # HDF5 attribute: the action name of the "no sign" output, absent if none


# --- the tutorial's model ---------------------------------------------------------------------------

def build_model(n_actions=len(config.ACTIONS)):
    """The tutorial's architecture, layer for layer (raw 1662 keypoints in, softmax over actions out)."""
    model = keras.Sequential([
        keras.Input((config.SEQUENCE_LENGTH, FRAME_SIZE)),
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

def build_recipe(n_actions, width=96, dropout=0.3, name="signlang", head="actions"):
    """The shipped model: Normalize -> per-frame dense -> two temporal convolutions -> max+mean pooling.

    Pooling over time makes the decision independent of where in the 30 frames the sign happens.
    """
    inputs = keras.Input((config.SEQUENCE_LENGTH, FRAME_SIZE), name="keypoints")
    x = Normalize(name="normalize")(inputs)
    x = layers.Dense(width * 2, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv1D(width, 5, padding="same", activation="relu")(x)
    x = layers.Conv1D(width, 5, padding="same", activation="relu")(x)
    x = layers.Concatenate()([layers.GlobalMaxPooling1D()(x), layers.GlobalAveragePooling1D()(x)])
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(width, activation="relu")(x)
    outputs = layers.Dense(n_actions, activation="softmax", name=head)(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model


def average(models, veto_net=None, no_sign=None):
    """One model whose output is the mean of the models' probabilities, overruled by a veto network (signlang.veto)
    when one is given with the index of the "no sign" output. A single model without veto is returned as is."""
    if len(models) == 1 and veto_net is None:
        return models[0]
    inputs = keras.Input((config.SEQUENCE_LENGTH, FRAME_SIZE), name="keypoints")
    p = models[0](inputs) if len(models) == 1 else layers.Average(name="actions")([m(inputs) for m in models])
    return keras.Model(inputs, p if veto_net is None else veto.apply(p, veto_net(inputs), no_sign), name="signlang")


# --- saving and loading ------------------------------------------------------------------------------

def save(model, path, actions, no_sign=None):
    """Saves as HDF5 (the tutorial's action.h5) and records the action names in output order, and which
    of them means "no sign" (None: the model has no such output)."""
    if model.output_shape[-1] != len(actions):
        raise SignlangError(f"{path}: model has {model.output_shape[-1]} outputs but {len(actions)} actions given")
    if no_sign is not None and no_sign not in actions:
        raise SignlangError(f"{path}: the 'no sign' output {no_sign!r} is not among the actions {list(actions)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".h5") as tmp:  # a crash never leaves half a model
        model.save(tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[ACTIONS_ATTR] = json.dumps(list(actions))
            if no_sign is not None:
                f.attrs[NO_SIGN_ATTR] = no_sign


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
        raise SignlangError(f"{path}: not a loadable Keras model ({_first_line(e)})") from e


def _first_line(error):
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def check_input(model, path, shape=(config.SEQUENCE_LENGTH, FRAME_SIZE)):
    """Raises a SignlangError unless the model takes windows of `shape` (frames x keypoints), as MP_Data has."""
    takes = model.input_shape
    if isinstance(takes, list) or len(takes) != len(shape) + 1 or any(
            t is not None and t != s for t, s in zip(takes[1:], shape)):
        raise SignlangError(f"{path}: model takes input of shape {takes}, not windows of {shape} (frames x keypoints)")


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
    try:
        actions = json.loads(recorded) if recorded is not None else list(config.ACTIONS)
    except (TypeError, ValueError) as e:
        raise SignlangError(f"{path}: its recorded action names are not a JSON list ({e})") from None
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise SignlangError(f"{path}: its recorded action names are not a list of names: {recorded!r}")
    if len(actions) != outputs:
        source = "records" if recorded is not None else "records no action names and config.ACTIONS has"
        raise SignlangError(f"{path}: has {outputs} outputs but {source} {len(actions)} actions {actions}")
    return actions


def load_no_sign(path):
    """The name of the model's "no sign" output, or None for a model without one (the tutorial's)."""
    try:
        with h5py.File(Path(path), "r") as f:
            recorded, actions = f.attrs.get(NO_SIGN_ATTR), f.attrs.get(ACTIONS_ATTR)
    except OSError as e:
        raise SignlangError(f"{path}: not an HDF5 model file ({e})") from None
    if recorded is None:
        return None
    try:
        actions = json.loads(actions) if actions is not None else list(config.ACTIONS)
    except (TypeError, ValueError):
        actions = None  # load_actions names that problem
    if isinstance(actions, list) and str(recorded) not in actions:
        raise SignlangError(f"{path}: its 'no sign' output {str(recorded)!r} is not among its actions {actions}")
    return str(recorded)
