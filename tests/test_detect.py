"""`signlang detect` and `signlang export` end to end, as a user runs them: real MediaPipe on the shared clips,
the real model, stdout parsed as JSON lines, the annotated video re-opened with OpenCV."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from signlang import config
from signlang.sources import open_source

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
VIDEOS = SHARED / "videos"
SHIPPED = ROOT / config.MODEL_PATH
ACTIONS = ["hello", "thanks", "iloveyou"]


def labelled_clips():
    if not (VIDEOS / "manifest.json").is_file():
        return []
    clips = json.loads((VIDEOS / "manifest.json").read_text())["clips"]
    return [(VIDEOS / c["file"], c["label"]) for c in clips if c["label"]]


needs_shipped = pytest.mark.skipif(not (VIDEOS.is_dir() and SHIPPED.is_file()),
                                   reason=f"needs the shared clips ({VIDEOS}) and the shipped model ({SHIPPED})")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The CLI's environment, with its LiteRT cache in a temporary folder."""
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A model file of the shipped recipe, for the checks that do not depend on training."""
    from signlang import model as M
    path = tmp_path_factory.mktemp("model") / "recipe.h5"
    M.save(M.build_recipe(3), path, ACTIONS)
    return path


def signlang(env, *args):
    return subprocess.run([sys.executable, "-m", "signlang.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)


def events(result):
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    parsed = [json.loads(line) for line in lines]  # stdout holds JSON lines and nothing else
    assert [e["event"] for e in parsed] == ["sign"] * (len(parsed) - 1) + ["summary"]
    return parsed[:-1], parsed[-1]


def frame_count(video):
    cap = cv2.VideoCapture(str(video))
    assert cap.isOpened(), f"{video} does not open"
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


@needs_shipped
@pytest.mark.parametrize("clip,label", labelled_clips(), ids=lambda v: getattr(v, "stem", v))
def test_detect_recognises_the_sign_of_a_short_clip(env, tmp_path, clip, label):
    out = tmp_path / "annotated.mp4"
    signs, summary = events(signlang(env, "detect", "--source", clip, "--model", SHIPPED, "--json", "--out", out))
    sampled = sum(1 for _ in open_source(clip, config.FPS))
    assert summary["sentence"] == [label], f"{clip.name}: {signs}"
    assert [s["sign"] for s in signs] == [label] and 0.5 < signs[0]["p"] <= 1
    assert 0 <= signs[0]["t"] <= sampled / config.FPS and summary["fps"] > 0
    assert summary["frames"] == sampled and frame_count(out) == sampled  # one annotated frame per sampled frame


def shared_clips(kind):
    if not (VIDEOS / "manifest.json").is_file():
        return []
    return [c for c in json.loads((VIDEOS / "manifest.json").read_text())["clips"] if c["kind"] == kind]


@needs_shipped
@pytest.mark.parametrize("clip", shared_clips("continuous"), ids=lambda c: Path(c["file"]).stem)
def test_detect_gives_a_run_of_signs_in_order(env, clip):
    signs, summary = events(signlang(env, "detect", "--source", VIDEOS / clip["file"], "--model", SHIPPED, "--json"))
    assert summary["sentence"] == clip["signs"] and [s["sign"] for s in signs] == clip["signs"]
    assert [s["t"] for s in signs] == sorted(s["t"] for s in signs)


# People in view whose hands never are: talking to the camera, looking around (manifest `content`).
HANDS_OUT_OF_VIEW = ["KwaiVGI__LivePortrait__s18.mp4", "OpenTalker__video-retalking__1.mp4"]


@needs_shipped
@pytest.mark.parametrize("name", HANDS_OUT_OF_VIEW)
def test_detect_is_quiet_while_a_person_talks_without_signing(env, name):
    clip = VIDEOS / name
    signs, summary = events(signlang(env, "detect", "--source", clip, "--model", SHIPPED, "--json"))
    assert signs == [] and summary["sentence"] == [], signs
    assert summary["frames"] == sum(1 for _ in open_source(clip, config.FPS)) > 100


def test_a_video_without_a_person_gives_an_empty_sentence(env, tmp_path, untrained):
    video = tmp_path / "wall.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), config.FPS, (320, 240))
    wall = np.full((240, 320, 3), 180, np.uint8)
    for i in range(40):
        writer.write(cv2.putText(wall.copy(), str(i), (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 2, (90, 90, 90), 3))
    writer.release()
    out = tmp_path / "annotated.avi"
    signs, summary = events(signlang(env, "detect", "--source", video, "--model", untrained, "--json",
                                     "--threshold", "0", "--out", out))
    assert signs == [] and summary["sentence"] == [] and summary["frames"] == 40
    assert frame_count(out) == 40


def test_detect_reads_an_image_folder_and_prints_readable_lines(env, tmp_path, untrained):
    clip = next(iter(labelled_clips()), (None,))[0]
    if clip is None:
        pytest.skip(f"shared clips not found at {VIDEOS}")
    for i, frame in enumerate(open_source(clip, config.FPS)):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame.image)
    result = signlang(env, "detect", "--source", tmp_path, "--model", untrained)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("sentence: ") and f"{i + 1} frames" in result.stdout


def one_error_line(result, *fragments):
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("signlang: error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[-1]


@pytest.mark.parametrize("threshold", ["1.5", "-0.2"])
def test_a_threshold_outside_0_1_is_one_error_line(env, untrained, threshold):
    one_error_line(signlang(env, "detect", "--source", "x.mp4", "--model", untrained, "--threshold", threshold),
                   "--threshold", threshold)


def test_an_unreadable_source_is_one_error_line(env, tmp_path, untrained):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    one_error_line(signlang(env, "detect", "--source", broken, "--model", untrained), "broken.mp4", "decoded")
    one_error_line(signlang(env, "detect", "--source", tmp_path / "missing.mp4", "--model", untrained),
                   "missing.mp4")


def test_a_model_of_the_wrong_input_shape_is_one_error_line(env, tmp_path, untrained):
    import keras
    from signlang import model as M
    wrong = tmp_path / "wrong.h5"
    M.save(keras.Sequential([keras.Input((20, 1662)), keras.layers.LSTM(8), keras.layers.Dense(3, "softmax")]),
           wrong, ACTIONS)
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "0.png"), np.zeros((64, 64, 3), np.uint8))
    one_error_line(signlang(env, "detect", "--source", images, "--model", wrong), "wrong.h5", "(20, 1662)")
    one_error_line(signlang(env, "detect", "--source", images, "--model", tmp_path / "none.h5"), "none.h5")


@pytest.mark.skipif(Path("/dev/video0").exists(), reason="a camera is attached")
def test_no_camera_says_how_to_pass_a_video(env, untrained):
    one_error_line(signlang(env, "detect", "--source", "0", "--model", untrained), "camera 0",
                   "make demo SOURCE=clip.mp4")


def test_export_writes_a_litert_model_with_the_same_outputs(env, tmp_path, untrained):
    from signlang.model import load_model
    from signlang.predictor import TOLERANCE, Predictor
    out = tmp_path / "action.tflite"
    result = signlang(env, "export", "--model", untrained, "--out", out)
    assert result.returncode == 0, result.stderr
    windows = np.random.default_rng(3).uniform(0, 1, (4, config.SEQUENCE_LENGTH, 1662)).astype(np.float32)
    got = np.stack([Predictor(out.read_bytes(), ACTIONS)(w) for w in windows])
    np.testing.assert_allclose(got, load_model(untrained).predict(windows, verbose=0), atol=TOLERANCE, rtol=0)
