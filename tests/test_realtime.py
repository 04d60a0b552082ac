"""signlang.detector, predictor, display: the decision logic on keypoint streams (predictor injected,
milliseconds), the LiteRT predictor and export against Keras, the display helpers. Real recordings from
../shared."""

import io
import lzma
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FULL_FACE, signer_archive
from signlang import config, data, nosign
from signlang.detector import MIN_FRAMES, Detector, stable_frames
from signlang.display import TUTORIAL_COLORS, annotate, bar_colors, prob_viz
from signlang.layout import FRAME_SIZE, LEFT_HAND, POSE, RIGHT_HAND
from signlang.timeline import filled
from signlang.model import load_no_sign
from signlang.predictor import TOLERANCE, Predictor, cache_dir, digest, export, load_predictor
from signlang.errors import SignlangError

SIGNERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "signers"
ACTIONS = ["hello", "thanks", "iloveyou"]


def frame(marker, content=0.5):
    """A keypoint frame that tells `scripted` which probabilities to return (1 + marker in its first value)."""
    f = np.full(FRAME_SIZE, content, dtype=np.float32)
    f[0] = 1 + marker
    return f


def scripted(rows):
    """A predictor returning rows[marker of the window's newest frame]; it records the windows it saw."""
    def predict(window):
        assert window.shape == (config.SEQUENCE_LENGTH, FRAME_SIZE)
        predict.windows.append(window.copy())
        return np.asarray(rows[int(window[-1, 0]) - 1], dtype=np.float32)
    predict.windows = []
    return predict


def one_hot(n, best, p):
    row = np.full(n, (1 - p) / (n - 1))
    row[best] = p
    return row


def feed(detector, markers):
    return [detector.push(frame(m)) for m in markers]


def detector(rows, actions=ACTIONS, **kwargs):
    kwargs.setdefault("min_frames", 1)
    return Detector(scripted(rows), actions, **kwargs)


def test_a_sign_needs_n_agreeing_predictions():
    d = detector([one_hot(3, 1, 0.9)], stable=10)
    assert feed(d, [0] * 10) == [None] * 9 + ["thanks"]
    assert list(d.sentence) == ["thanks"]


def test_stability_looks_at_every_vote_not_only_the_smallest_class():
    # The tutorial's np.unique(predictions[-10:])[0] == argmax accepts "hello" here: 0 is the smallest id
    # among nine votes for "iloveyou" (below threshold) and one for "hello".
    d = detector([one_hot(3, 2, 0.4), one_hot(3, 0, 0.9)], stable=10)
    assert feed(d, [0] * 9 + [1]) == [None] * 10
    assert feed(d, [1] * 9) == [None] * 8 + ["hello"]


def test_probability_must_exceed_the_threshold():
    assert feed(detector([one_hot(3, 0, 0.5)], stable=3, confidence=0), [0] * 20) == [None] * 20
    assert feed(detector([one_hot(3, 0, 0.51)], stable=3, confidence=0), [0] * 3)[-1] == "hello"
    assert feed(detector([one_hot(3, 0, 0.7)], stable=3, threshold=0.8), [0] * 20) == [None] * 20


def test_a_sign_needs_the_confidence_on_average_over_its_votes():
    unsure, sure = one_hot(3, 1, 0.6), one_hot(3, 1, 0.95)
    assert feed(detector([unsure], stable=4), [0] * 20) == [None] * 20  # every vote above 0.5, mean 0.6 < 0.8
    d = detector([unsure, sure], stable=4)
    assert feed(d, [0, 0, 1, 1]) == [None] * 4  # mean (0.6 + 0.6 + 0.95 + 0.95) / 4 = 0.775
    assert feed(d, [1]) == ["thanks"]  # mean (0.6 + 3 x 0.95) / 4 = 0.86
    assert d.confidences == [pytest.approx(0.8625)]  # what detect --json reports as the sign's "p"


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan")])
def test_threshold_outside_0_1_is_refused(threshold):
    with pytest.raises(SignlangError, match="between 0 and 1"):
        detector([one_hot(3, 0, 0.9)], threshold=threshold)


def test_a_held_sign_is_added_once_and_a_repeat_after_another_sign_again():
    d = detector([one_hot(3, 0, 0.9), one_hot(3, 1, 0.9)], stable=2)
    feed(d, [0] * 50 + [1] * 5 + [0] * 5)
    assert list(d.sentence) == ["hello", "thanks", "hello"]


def test_the_sentence_keeps_the_last_five_words():
    d = detector([one_hot(3, i, 0.9) for i in range(3)], stable=2)
    feed(d, [m for m in [0, 1, 2, 0, 1, 2, 0] for _ in range(3)])
    assert list(d.sentence) == ["iloveyou", "hello", "thanks", "iloveyou", "hello"]


WITH_NO_SIGN = ACTIONS + [config.NO_SIGN]
HELLO, THANKS, REST = one_hot(4, 0, 0.9), one_hot(4, 1, 0.9), one_hot(4, 3, 0.9)


def signer(**kwargs):
    """A Detector for a model with a "no sign" output: marker 0 = hello, 1 = thanks, 2 = rest."""
    return detector([HELLO, THANKS, REST], actions=WITH_NO_SIGN, no_sign=config.NO_SIGN, **kwargs)


def test_signs_with_rest_between_are_given_once_each_in_order():
    d = signer(stable=4)
    feed(d, [2] * 20 + [0] * 30 + [2] * 10 + [1] * 25 + [2] * 40)
    assert d.words == ["hello", "thanks"]


def test_a_sign_held_long_is_given_once_and_again_after_a_pause():
    d = signer(stable=4)
    feed(d, [0] * 100 + [2] + [0] * 20)  # a flicker shorter than N / 2 is no pause
    assert d.words == ["hello"]
    feed(d, [2] * 2 + [0] * 20)  # 2 = N / 2 "no sign" predictions in a row end the stretch
    assert d.words == ["hello", "hello"]


def test_a_run_of_signs_without_rest_and_back():
    d = signer(stable=3)
    feed(d, [0] * 10 + [1] * 10 + [0] * 10)
    assert d.words == ["hello", "thanks", "hello"]


def test_no_sign_never_enters_the_sentence_and_has_no_bar():
    d = signer(stable=2)
    feed(d, [2] * 200)
    assert d.words == [] and not d.sentence and d.flush() == []
    assert d.signs == ACTIONS and np.allclose(d.sign_probs(), REST[:3])
    with pytest.raises(SignlangError, match="not among the actions"):
        Detector(scripted([]), ACTIONS, no_sign="idle")


def test_words_keep_every_sign_while_the_banner_keeps_five():
    d = signer(stable=2)
    feed(d, [m for m in [0, 2, 1, 2] * 4 for _ in range(3)])
    assert d.words == ["hello", "thanks"] * 4 and list(d.sentence) == d.words[-5:]


def test_any_number_of_actions_with_generated_bar_colours():
    actions = [f"sign{i}" for i in range(12)]
    d = detector([one_hot(12, i, 0.8) for i in range(12)], actions=actions, stable=2)
    feed(d, [m for m in (11, 4, 7) for _ in range(2)])
    assert list(d.sentence) == ["sign11", "sign4", "sign7"]
    colors = bar_colors(12)
    assert colors[:3] == TUTORIAL_COLORS and len(set(colors)) == 12
    image = prob_viz(d.probs, actions, np.zeros((720, 480, 3), np.uint8), colors)
    assert tuple(image[60 + 7 * 40 + 1, 60]) == colors[7]  # the 8th bar, 80 % long, in its colour


def test_the_window_fills_from_half_a_window_padded_with_the_last_frame():
    d = detector([one_hot(3, 0, 0.2)] * 3, min_frames=MIN_FRAMES)
    feed(d, [0] * (MIN_FRAMES - 1))
    assert d.predict.windows == [] and d.probs is None
    feed(d, [1])
    window = d.predict.windows[-1]
    assert np.all(window[:MIN_FRAMES - 1, 0] == 1) and np.all(window[MIN_FRAMES - 1:, 0] == 2)
    feed(d, [2] * config.SEQUENCE_LENGTH + [0])  # full: a sliding window, the newest frame last
    assert np.all(d.predict.windows[-1][:-1, 0] == 3) and d.predict.windows[-1][-1, 0] == 1


def test_end_of_stream_judges_a_short_clip_on_its_last_window():
    d = detector([one_hot(3, 2, 0.9)], min_frames=MIN_FRAMES, stable=10)
    clip = [frame(0, content=i) for i in range(MIN_FRAMES + 3)]
    assert [d.push(f) for f in clip] == [None] * len(clip)  # 4 votes: not yet stable
    assert d.flush() == ["iloveyou"]
    last, held = d.predict.windows[3], d.predict.windows[4:]
    assert len(held) == 9 and all(np.array_equal(w, last) for w in held)  # holding the pose: the same window
    assert Detector(scripted([]), ACTIONS).flush() == []


def test_nobody_in_the_window_gives_no_votes_and_an_empty_sentence():
    d = detector([one_hot(3, 0, 0.99)], stable=3)
    for _ in range(100):
        assert d.push(np.zeros(FRAME_SIZE)) is None
    assert d.flush() == [] and d.predict.windows == [] and d.probs is None and not d.sentence
    feed(d, [0, 0])
    for _ in range(config.SEQUENCE_LENGTH):  # the person leaves: once out of the window, old votes are dropped
        d.push(np.zeros(FRAME_SIZE))
    assert not d.votes and d.probs is None


def test_a_frame_of_the_wrong_size_is_refused():
    with pytest.raises(SignlangError, match="1662 values"):
        detector([one_hot(3, 0, 0.9)]).push(np.zeros(1629))


def test_stability_scales_with_a_faster_sampling_rate():
    assert stable_frames(config.FPS) == config.STABLE_FRAMES
    assert stable_frames(2 * config.FPS) == 2 * config.STABLE_FRAMES
    assert stable_frames(config.FPS / 3) == config.STABLE_FRAMES  # a slower one is filled up to config.FPS


def test_frames_further_apart_than_the_training_rate_are_filled_by_blending():
    predict = scripted({0: one_hot(3, 0, 0.9)})
    detector = Detector(predict, ACTIONS, min_frames=1)
    a, b = np.full(FRAME_SIZE, 0.2, np.float32), np.full(FRAME_SIZE, 0.8, np.float32)
    a[0] = b[0] = 1  # marker 0
    b[LEFT_HAND] = 0  # the left hand vanishes: it is not moved, it is the nearer frame's
    detector.push(a, 0.0)
    detector.push(b, 3 / config.FPS)  # three steps later: two frames filled in between
    seen = [w[-1] for w in predict.windows]
    assert len(seen) == 4
    np.testing.assert_allclose(seen[1][POSE][1:], 0.4, atol=1e-6)
    np.testing.assert_allclose(seen[2][RIGHT_HAND], 0.6, atol=1e-6)
    assert (seen[1][LEFT_HAND] == 0.2).all() and not seen[2][LEFT_HAND].any()
    detector.push(a, 3.01 / config.FPS)  # faster than the rate: taken as it comes, nothing filled
    detector.push(a)  # without a time: nothing filled
    detector.push(b, 3 / config.FPS + 0.6)  # as slow as a source may be: 0.6 s, 14 frames filled
    detector.push(a, 100.0)  # a break (a stalled camera): not filled
    assert len(predict.windows) == 6 + 15 + 1


@settings(max_examples=40, deadline=None)
@given(every=st.integers(1, 7), first=st.integers(0, 6), seed=st.integers(0, 2 ** 16))
def test_a_stream_moving_in_straight_lines_is_rebuilt_from_every_kth_frame(every, first, seed):
    """Every k-th frame of a 25 frames/s stream in which each value moves in a straight line, pushed with its
    time: the Detector's window holds the frames in between again."""
    rng = np.random.default_rng(seed)
    start, speed = rng.uniform(0.2, 0.6, FRAME_SIZE), rng.uniform(-0.01, 0.01, FRAME_SIZE)
    start[0], speed[0] = 1, 0  # marker 0 for `scripted`
    stream = [(start + i * speed).astype(np.float32) for i in range(45)]
    predict = scripted({0: one_hot(3, 0, 0.9)})
    detector = Detector(predict, ACTIONS, min_frames=1)
    pushed = list(range(first, len(stream), every))
    for i in pushed:
        detector.push(stream[i], i / config.FPS)
    held = min(config.SEQUENCE_LENGTH, pushed[-1] - first + 1)
    np.testing.assert_allclose(predict.windows[-1][-held:], np.stack(stream[pushed[-1] + 1 - held:pushed[-1] + 1]),
                               atol=1e-5)


def test_filled_keypoints_are_what_the_detector_sees():
    """signlang.timeline.filled (extract, add-sign from a video) gives the frames the Detector fills in."""
    rng = np.random.default_rng(0)
    stream = [(t, rng.uniform(0.1, 0.9, FRAME_SIZE).astype(np.float32)) for t in (0.0, 0.1, 0.13, 0.3, 0.9, 5.0)]
    for _, f in stream:
        f[0] = 1
    predict = scripted({0: one_hot(3, 0, 0.9)})
    detector = Detector(predict, ACTIONS, min_frames=1)
    for t, f in stream:
        detector.push(f, t)
    rows = list(filled(stream))
    assert len(rows) == len(predict.windows) == 1 + 2 + 1 + 4 + 15 + 1  # steps 0, 2, 3, 7, 22, 125 (a break)
    np.testing.assert_array_equal(np.stack([w[-1] for w in predict.windows]), np.stack(rows))


def test_the_decision_logic_loads_no_tensorflow_camera_or_mediapipe():
    code = ("import sys, signlang.detector; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'cv2', 'mediapipe') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_banner_is_as_wide_as_the_frame():
    d = detector([one_hot(3, 0, 0.9)], stable=1)
    feed(d, [0])
    image = annotate(np.zeros((850, 478, 3), np.uint8), EMPTY_RESULTS, d, bar_colors(3))
    assert tuple(image[5, 477]) == (245, 117, 16) and tuple(image[45, 477]) == (0, 0, 0)


class EMPTY_RESULTS:  # Holistic's result when nobody is seen: every part None
    face_landmarks = pose_landmarks = left_hand_landmarks = right_hand_landmarks = None


# --- real recordings and the real LiteRT predictor ---------------------------------------------------

needs_signers = pytest.mark.skipif(not SIGNERS.is_dir(), reason=f"real recordings not found at {SIGNERS}")


@pytest.fixture(scope="module")
def recordings():
    archive = sorted(SIGNERS.glob("*.npz.xz"))[0]
    data = np.load(io.BytesIO(lzma.open(archive).read()))
    return data["X"].astype(np.float32), data["y"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The tutorial's LSTM and the shipped recipe (untrained: speed and fidelity do not need training)."""
    from signlang import model as M
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        paths = {}
        for name, build in (("tutorial", M.build_model), ("recipe", M.build_recipe)):
            paths[name] = folder / f"{name}.h5"
            M.save(build(3), paths[name], ACTIONS)
        yield paths


@needs_signers
@pytest.mark.parametrize("name", ["tutorial", "recipe"])
def test_predictor_matches_keras_on_real_windows_and_is_cached(models, recordings, name):
    from signlang.model import load_model
    windows = recordings[0][::15][:8]
    predict = load_predictor(models[name])
    expected = load_model(models[name]).predict(windows, verbose=0)
    got = np.stack([predict(w) for w in windows])
    assert predict.actions == ACTIONS
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    cached = list(cache_dir().glob("*.tflite"))
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    load_predictor(models[name])
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps  # reused, not converted again


def test_the_cache_key_changes_with_the_model_file_and_with_the_code_its_layers_run(tmp_path):
    model, code = tmp_path / "action.h5", [tmp_path / "features.py", tmp_path / "veto.py"]
    for path, text in zip([model, *code], ("weights", "def read(): pass", "TAU = 0.99")):
        path.write_text(text)
    keys = {digest(model, code)}
    code[0].write_text("def read(): return 1")  # a new way to read keypoints: an old conversion would be stale
    keys.add(digest(model, code))
    model.write_text("other weights")
    keys.add(digest(model, code))
    assert len(keys) == 3 and digest(model, code) == digest(model, code)


@needs_signers
def test_memory_stays_flat_over_a_10000_frame_stream(models, recordings):
    stream = recordings[0].reshape(-1, FRAME_SIZE)  # real signing, one recording after the other
    d = Detector(load_predictor(models["recipe"]), ACTIONS)
    tracemalloc.start()
    try:
        for i in range(10_000):
            d.push(stream[i % len(stream)])
            if i == 999:
                early = tracemalloc.get_traced_memory()[0]
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert late - early < 256 * 1024, f"memory grew by {late - early} bytes over 9000 frames"
    assert len(d.frames) == config.SEQUENCE_LENGTH and len(d.votes) <= config.STABLE_FRAMES


def test_a_model_that_does_not_take_30_by_1662_windows_is_refused(tmp_path):
    import keras
    from signlang import model as M
    path = tmp_path / "wide.h5"
    M.save(keras.Sequential([keras.Input((30, 258)), keras.layers.LSTM(8), keras.layers.Dense(3, "softmax")]),
           path, ACTIONS)
    with pytest.raises(SignlangError, match=r"wide.h5: model takes windows of shape \(30, 258\)"):
        load_predictor(path)


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "action.h5"
    path.write_text("not a model")
    with pytest.raises(SignlangError, match="action.h5"):
        load_predictor(path)


@needs_signers
def test_export_writes_a_litert_file_with_matching_outputs(models, recordings, tmp_path):
    from signlang.model import load_model
    out = tmp_path / "action.tflite"
    export(models["tutorial"], out)
    windows = recordings[0][:3]
    got = np.stack([Predictor(out.read_bytes(), ACTIONS)(w) for w in windows])
    np.testing.assert_allclose(got, load_model(models["tutorial"]).predict(windows, verbose=0), atol=TOLERANCE,
                               rtol=0)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_the_shipped_model_gives_a_persons_signs_with_rest_between_once_each():
    """Real recordings of one person, with rest (hands down) between and a sign repeated after a pause,
    through the shipped model's LiteRT predictor and the Detector."""
    shipped = Path(__file__).resolve().parents[1] / config.MODEL_PATH
    if load_no_sign(shipped) is None:
        pytest.skip(f"{shipped} has no 'no sign' output")
    ds = data.load(signer_archive(FULL_FACE[0]), progress=False)
    rng = np.random.default_rng(0)
    words = ["hello", "thanks", "thanks", "iloveyou"]
    parts = []
    for word in words:
        sequence = ds.X[rng.choice(np.flatnonzero(ds.y == word))]
        parts += [nosign.at_rest(np.repeat(sequence[:1], 25, axis=0), rng), sequence]
    parts.append(nosign.at_rest(np.repeat(parts[-1][-1:], 25, axis=0), rng))
    predictor = load_predictor(shipped)
    d = Detector(predictor, predictor.actions, no_sign=predictor.no_sign)
    for frame in np.concatenate(parts):
        d.push(frame)
    d.flush()
    assert d.words == words
