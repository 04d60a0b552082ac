"""The predictor: an action.h5 model converted to LiteRT (checked against Keras, cached by the file's hash
and that of the code its layers run), called on one window at a time; and `export`, which writes that LiteRT file.

TensorFlow is imported only when a predictor is made or a model converted.
"""

import hashlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from signlang.atomic import write_bytes
from signlang.detector import WINDOW_SHAPE
from signlang.errors import SignlangError

TOLERANCE = 1e-4  # LiteRT vs Keras probabilities, checked at conversion


class Predictor:
    """One (30, 1662) window -> probabilities in the model's action order, on a LiteRT interpreter."""

    def __init__(self, tflite, actions, threads=1, no_sign=None):
        import tensorflow as tf
        with warnings.catch_warnings():  # tf.lite.Interpreter announces its move to ai_edge_litert
            warnings.simplefilter("ignore")
            self.interpreter = tf.lite.Interpreter(model_content=tflite, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.actions, self.no_sign = actions, no_sign

    def __call__(self, window):
        self.interpreter.set_tensor(self.input, np.asarray(window, dtype=np.float32)[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)[0]


def cache_dir():
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "signlang"


def load_predictor(model_path, threads=1):
    """The model's LiteRT predictor, converted on first use and cached by the model file's hash."""
    from signlang.model import load_no_sign

    tflite, actions = _converted(model_path)
    return Predictor(tflite, actions, threads, load_no_sign(model_path))


def export(model_path, out):
    """Writes the model as a LiteRT file whose outputs match Keras within TOLERANCE."""
    tflite, _ = _converted(model_path)
    write_bytes(out, tflite)


def _converted(model_path):
    """(LiteRT bytes, actions); the Keras model is loaded either way, to validate it and read its actions."""
    import tensorflow as tf
    from signlang.model import load_actions, load_model

    model = load_model(model_path)
    if tuple(model.input_shape[1:]) != WINDOW_SHAPE:
        raise SignlangError(f"{model_path}: model takes windows of shape {tuple(model.input_shape[1:])}, "
                            f"detection feeds {WINDOW_SHAPE} (frames x keypoints)")
    actions = load_actions(model_path, model)
    cached = cache_dir() / f"{digest(model_path)}-tf{tf.__version__}.tflite"
    tflite = _read_cached(cached)
    if tflite is None:
        tflite = _convert(model, model_path)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(cached, tflite)
        except (OSError, SignlangError) as e:  # the model still works, converted again on each start
            print(f"signlang: note: cannot cache the converted model in {cached.parent} "
                  f"({getattr(e, 'strerror', None) or e}); `signlang doctor` explains", file=sys.stderr)
    return tflite, actions


def digest(model_path, code=None):
    """The model's cache key: a hash of its file and of the package code its layers run (by default the
    modules defining them: signlang.features, veto, newsigns). A model file names its layers, their code is
    this package's: when that changes (a new way to read the keypoints), so does the converted model."""
    if code is None:
        from signlang import features, newsigns, veto
        code = [m.__file__ for m in (features, newsigns, veto)]
    h = hashlib.sha256(Path(model_path).read_bytes())
    for path in code:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:32]


def _read_cached(path):
    """The cached LiteRT bytes, or None when absent, unreadable or damaged (then converted again)."""
    try:
        tflite = path.read_bytes()
        probe = Predictor(tflite, None)(np.zeros(WINDOW_SHAPE, np.float32))
    except Exception:  # missing, a folder, permissions, or not a LiteRT model (the interpreter's ValueError)
        return None
    return tflite if np.isfinite(probe).all() else None


def _convert(model, model_path):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    unrolled = _unrolled(model)
    forward = tf.function(lambda x: unrolled(x, training=False),
                          input_signature=[tf.TensorSpec((1,) + WINDOW_SHAPE, tf.float32)])
    try:
        # Weights frozen into constants: LiteRT cannot read Keras 3's resource variables.
        frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
        tflite = tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()
    except Exception as e:  # the converter raises many types, with pages of MLIR
        raise SignlangError(f"{model_path}: cannot be converted to LiteRT ({type(e).__name__}: "
                            f"{str(e).splitlines()[0] if str(e) else ''})") from e
    probe = np.random.default_rng(0).uniform(0, 1, (2,) + WINDOW_SHAPE).astype(np.float32)
    expected = model.predict(probe, verbose=0)
    got = np.stack([Predictor(tflite, None)(w) for w in probe])
    if not np.allclose(got, expected, atol=TOLERANCE, rtol=0):
        raise SignlangError(f"{model_path}: LiteRT conversion differs from Keras by {np.abs(got - expected).max():.2g} "
                            f"(more than {TOLERANCE})")
    return tflite


def _unrolled(model):
    import keras
    plain = lambda layer: (isinstance(layer, keras.layers.LSTM)
                           and not (layer.go_backwards or layer.return_state or layer.stateful))
    return keras.models.clone_model(model, clone_function=lambda l: _unrolled_lstm(l) if plain(l) else l)


def _unrolled_lstm(lstm):
    """A Keras LSTM as explicit time steps, with the input projection done once for the whole window.

    LiteRT then runs a flat graph of small matrix ops instead of a WHILE loop: about 0.65 ms per window
    for the tutorial's LSTM instead of 1.2 ms. The weights are the original layer's.
    """
    import keras
    import tensorflow as tf

    class Unrolled(keras.layers.Layer):
        def call(self, x):
            cell = lstm.cell
            projected = tf.matmul(x, cell.kernel) + (cell.bias if cell.use_bias else 0.0)
            h = c = tf.zeros((tf.shape(x)[0], cell.units))
            outputs = []
            for t in range(x.shape[1]):
                i, f, g, o = tf.split(projected[:, t] + tf.matmul(h, cell.recurrent_kernel), 4, axis=-1)
                c = cell.recurrent_activation(f) * c + cell.recurrent_activation(i) * cell.activation(g)
                h = cell.recurrent_activation(o) * cell.activation(c)
                outputs.append(h)
            return tf.stack(outputs, axis=1) if lstm.return_sequences else h

    return Unrolled(name=lstm.name)
