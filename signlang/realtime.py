"""Real-time detection: keypoint frames -> sliding window -> predictor -> stable signs -> sentence, and its display.

Decision logic (`Detector`) is plain numpy with the predictor injected; TensorFlow only appears when a
model file is turned into a LiteRT predictor (`load_predictor`, `export`), and the camera, window and
video file only in `detect`.

How a stream is judged (README: "Real-time detection"):
- Window fill. Frames are appended at the end of a 30-frame window, like training data. Predictions
  start once half a window (15 frames) is there; until the window is full it is padded by repeating
  its last frame, exactly as `extract` pads a clip shorter than 30 frames, so a 1-3 s clip of one sign
  is judged on the same kind of window the model was trained on.
- Stability. A sign enters the sentence when the last N predictions all agree, its probability
  exceeds the threshold and it differs from the last word; the sentence keeps the last 5 words.
  N counts predictions at the sampling rate: config.STABLE_FRAMES (10) at config.FPS, scaled with the
  rate otherwise, so the sign must hold for the same time (10 frames at 25 fps = 0.4 s).
- End of stream. The last frame is repeated N - 1 more times (the signer holds the final pose), so the
  final window gets its N votes. For a clip shorter than a window this changes nothing in the window:
  the clip's last window is what is judged.
- Nobody seen. A window in which no frame has any landmark (all 1662 values zero) is not predicted and
  clears the votes, so a video without a person gives an empty sentence (and no bars).
"""

import hashlib
import json
import os
import queue
import threading
import time
import warnings
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from signlang import config, keypoints as kp
from signlang.collect import pad
from signlang.errors import SignlangError
from signlang.sources import is_camera, open_source

WINDOW_SHAPE = (config.SEQUENCE_LENGTH, kp.FRAME_SIZE)
MIN_FRAMES = config.SEQUENCE_LENGTH // 2   # frames seen before the first prediction
TOLERANCE = 1e-4                           # LiteRT vs Keras probabilities, checked at conversion
TUTORIAL_COLORS = [(245, 117, 16), (117, 245, 16), (16, 117, 245)]
WINDOW_NAME = "OpenCV Feed"


# --- decision logic -----------------------------------------------------------------------------------

def check_threshold(threshold):
    if not 0 <= threshold <= 1:
        raise SignlangError(f"--threshold must be a probability between 0 and 1, not {threshold}")


def stable_frames(fps):
    """Predictions that must agree: config.STABLE_FRAMES at config.FPS, the same duration at other rates."""
    return max(1, round(config.STABLE_FRAMES * fps / config.FPS))


class Detector:
    """Feeds keypoint frames one at a time through `predict` and builds the sentence (see module doc)."""

    def __init__(self, predict, actions, threshold=config.THRESHOLD, stable=config.STABLE_FRAMES,
                 sentence_length=config.SENTENCE_LENGTH, min_frames=MIN_FRAMES):
        check_threshold(threshold)
        self.predict, self.actions, self.threshold = predict, list(actions), threshold
        self.min_frames = min(max(1, min_frames), config.SEQUENCE_LENGTH)
        self.frames = deque(maxlen=config.SEQUENCE_LENGTH)  # bounded: memory stays flat on endless streams
        self.predictions = deque(maxlen=stable)
        self.sentence = deque(maxlen=sentence_length)
        self.probs = None  # last prediction, for the bars

    def window(self):
        return pad(np.stack(self.frames))

    def push(self, keypoints):
        """Adds one frame (1662 values); returns the sign that entered the sentence, or None."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.shape != (kp.FRAME_SIZE,):
            raise SignlangError(f"a keypoint frame has {kp.FRAME_SIZE} values, not shape {keypoints.shape}")
        self.frames.append(keypoints)
        if len(self.frames) < self.min_frames:
            return None
        window = self.window()
        if not window.any():  # nobody seen in the whole window: no vote, and older votes are stale
            self.predictions.clear()
            self.probs = None
            return None
        self.probs = np.asarray(self.predict(window))
        best = int(np.argmax(self.probs))
        self.predictions.append(best)
        sign = self.actions[best]
        stable = len(self.predictions) == self.predictions.maxlen and self.predictions.count(best) == len(self.predictions)
        if stable and self.probs[best] > self.threshold and (not self.sentence or self.sentence[-1] != sign):
            self.sentence.append(sign)
            return sign
        return None

    def flush(self):
        """End of stream: the last frame held for N - 1 more predictions; returns the signs added."""
        if not self.frames:
            return []
        last = self.frames[-1]
        return [s for s in (self.push(last) for _ in range(self.predictions.maxlen - 1)) if s]


# --- predictor: action.h5 -> LiteRT, cached ------------------------------------------------------------

class Predictor:
    """One (30, 1662) window -> probabilities in the model's action order, on a LiteRT interpreter."""

    def __init__(self, tflite, actions, threads=1):
        import tensorflow as tf
        with warnings.catch_warnings():  # tf.lite.Interpreter announces its move to ai_edge_litert
            warnings.simplefilter("ignore")
            self.interpreter = tf.lite.Interpreter(model_content=tflite, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.actions = actions

    def __call__(self, window):
        self.interpreter.set_tensor(self.input, np.asarray(window, dtype=np.float32)[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)[0]


def cache_dir():
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "signlang"


def load_predictor(model_path, threads=1):
    """The model's LiteRT predictor, converted on first use and cached by the model file's hash."""
    tflite, actions = _converted(model_path)
    return Predictor(tflite, actions, threads)


def export(model_path, out):
    """Writes the model as a LiteRT file whose outputs match Keras within TOLERANCE."""
    tflite, _ = _converted(model_path)
    _write_atomic(Path(out), tflite)


def _converted(model_path):
    """(LiteRT bytes, actions); the Keras model is loaded either way, to validate it and read its actions."""
    import tensorflow as tf
    from signlang.model import load_actions, load_model

    model = load_model(model_path)
    if tuple(model.input_shape[1:]) != WINDOW_SHAPE:
        raise SignlangError(f"{model_path}: model takes windows of shape {tuple(model.input_shape[1:])}, "
                            f"detection feeds {WINDOW_SHAPE} (frames x keypoints)")
    actions = load_actions(model_path, model)
    digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:32]
    cached = cache_dir() / f"{digest}-tf{tf.__version__}.tflite"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(cached, _convert(model, model_path))
    return cached.read_bytes(), actions


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


def _write_atomic(path, data):
    if not path.parent.is_dir():
        raise SignlangError(f"{path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # atomic: readers never see half a file
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- display -------------------------------------------------------------------------------------------

def bar_colors(n):
    """The tutorial's three bar colours, then evenly spread hues (golden-ratio steps) for more actions."""
    hues = [[[int(180 * (i * 0.618034 % 1)), 200, 245]] for i in range(3, n)]
    extra = cv2.cvtColor(np.uint8(hues), cv2.COLOR_HSV2BGR).reshape(-1, 3).tolist() if hues else []
    return (TUTORIAL_COLORS + [tuple(c) for c in extra])[:n]


def prob_viz(res, actions, input_frame, colors):
    """The tutorial's probability bars: one per action, 100 px at probability 1."""
    output_frame = input_frame.copy()
    for num, prob in enumerate(res):
        cv2.rectangle(output_frame, (0, 60 + num * 40), (int(prob * 100), 90 + num * 40), colors[num], -1)
        cv2.putText(output_frame, actions[num], (0, 85 + num * 40), cv2.FONT_HERSHEY_SIMPLEX, 1,
                    (255, 255, 255), 2, cv2.LINE_AA)
    return output_frame


def annotate(image, results, detector, colors):
    """Landmarks, probability bars and the sentence banner, as in the tutorial (banner as wide as the frame)."""
    kp.draw_styled_landmarks(image, results)
    if detector.probs is not None:
        image = prob_viz(detector.probs, detector.actions, image, colors)
    cv2.rectangle(image, (0, 0), (image.shape[1], 40), (245, 117, 16), -1)
    cv2.putText(image, " ".join(detector.sentence), (3, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2,
                cv2.LINE_AA)
    return image


class VideoSink:
    """Annotated frames -> a video file, written under a temporary name and renamed when complete."""

    FOURCC = {".avi": "MJPG"}  # anything else: mp4v (.mp4, .mov, .m4v, .mkv)

    def __init__(self, path, fps):
        self.path, self.fps, self.writer = Path(path), fps, None
        if not self.path.parent.is_dir():
            raise SignlangError(f"{self.path}: folder {self.path.parent} does not exist")
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp{self.path.suffix}")

    def write(self, image):
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*self.FOURCC.get(self.path.suffix.lower(), "mp4v"))
            self.writer = cv2.VideoWriter(os.fspath(self.tmp), fourcc, self.fps, image.shape[1::-1])
            if not self.writer.isOpened():
                raise SignlangError(f"{self.path}: cannot write a video of this type (try .mp4 or .avi)")
        self.writer.write(image)

    def close(self, complete=True):
        if self.writer is not None:
            self.writer.release()
            os.replace(self.tmp, self.path) if complete else self.tmp.unlink(missing_ok=True)


# --- the loop ------------------------------------------------------------------------------------------

def detect(source, model_path=config.MODEL_PATH, out=None, show=False, threshold=config.THRESHOLD,
           json_lines=False, fps=config.FPS):
    """Runs detection on a camera index, video file or image folder; prints each recognised sign.

    json_lines: stdout gets one {"event": "sign", ...} line per sign and a final {"event": "summary", ...}
    line, nothing else; otherwise readable lines. Returns the summary.
    """
    check_threshold(threshold)
    try:
        frames = open_source(source, fps)
    except SignlangError as error:
        hint = " (for example --source clip.mp4, or make demo SOURCE=clip.mp4)" if is_camera(source) else ""
        raise SignlangError(f"{error}{hint}") from None
    predictor = load_predictor(model_path)
    emit = _printer(json_lines)
    summary = run(frames, predictor, threshold, fps, out, show, on_sign=emit)
    emit(summary)
    return summary


def run(frames, predictor, threshold=config.THRESHOLD, fps=config.FPS, out=None, show=False, on_sign=None):
    """The real-time loop over Frames sampled at `fps`: Holistic, decision, then the annotated frame to a
    window (`show`, q quits) and/or the video file `out`. Holistic works one frame ahead in a thread
    while this frame is drawn and written. Ctrl-C ends the stream like q. Returns the summary event.
    """
    detector = Detector(predictor, predictor.actions, threshold, stable_frames(fps))
    sink = VideoSink(out, fps) if out else None
    colors, count, t, complete = bar_colors(len(detector.actions)), 0, 0.0, False
    with kp.open_holistic() as holistic:
        detections = _ahead((frame, *kp.mediapipe_detection(frame.image, holistic)) for frame in frames)
        start = time.perf_counter()
        try:
            for count, (frame, image, results) in enumerate(detections, 1):
                t, sign = frame.t, detector.push(kp.extract_keypoints(results))
                if sign and on_sign:
                    on_sign(_sign_event(detector, sign, t))
                if sink or show:
                    image = annotate(image, results, detector, colors)
                if sink:
                    sink.write(image)
                if show and _shown_and_quit(image):
                    break
            complete = True
        except KeyboardInterrupt:  # a headless camera run ends here: its outputs are still finished
            complete = True
        finally:
            detections.close()
            if sink:
                sink.close(complete)
            if show:
                cv2.destroyAllWindows()
        elapsed = time.perf_counter() - start
    for sign in detector.flush():
        if on_sign:
            on_sign(_sign_event(detector, sign, t))
    return {"event": "summary", "sentence": list(detector.sentence), "frames": count,
            "fps": round(count / elapsed, 2) if count else 0.0}


def _ahead(items, depth=2):
    """Iterates `items` in a thread, up to `depth` items ahead; closing the generator stops the thread."""
    buffer, stop, end = queue.Queue(depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                return buffer.put(item, timeout=0.1)
            except queue.Full:
                pass

    def work():
        try:
            for item in items:
                if stop.is_set():
                    return
                put(item)
            put(end)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _sign_event(detector, sign, t):
    return {"event": "sign", "sign": sign, "p": round(float(detector.probs.max()), 4), "t": round(t, 3)}


def _shown_and_quit(image):
    cv2.imshow(WINDOW_NAME, image)
    return cv2.waitKey(1) & 0xFF == ord("q")


def _printer(json_lines):
    def emit(event):
        if json_lines:
            print(json.dumps(event), flush=True)
        elif event["event"] == "sign":
            print(f"{event['t']:7.2f} s  {event['sign']}  (p={event['p']:.2f})", flush=True)
        else:
            print(f"sentence: {' '.join(event['sentence']) or '(none)'}; {event['frames']} frames "
                  f"at {event['fps']} frames/s", flush=True)
    return emit
