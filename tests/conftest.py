import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VIDEOS = SHARED / "videos"
SIGNERS = SHARED / "data" / "signers"
MORE_SIGNS = SHARED / "data" / "more_signs"

# Test subjects, picked by name (the shared folders are not in a fixed order and keep growing). From
# SIGNERS/manifest.json: `face: full` people with 30 recordings each of hello, thanks and iloveyou and the
# fewest frames without hands. Tests take distinct people wherever they need people a model has not seen.
FULL_FACE = (
    "Abhishek3670__Sign-Language-Detection-using-LSTM-Deep-Learning-Model",
    "Samuel-WM__sign-language-detection-demo",
    "Arjuna1-1__Sign-Language-Detector",
    "Ps1231__Expresshio",
    "Dhruvin-Virani__Sign-Language-Detection-Model",
    "Its-Suryakumar__Sign-Language-Recognition",
    "Priyansh159__sign-language-recognition",
    "RSBhoomika__Sign-Language-Recognition",
    "ManishSinghh__Major_project",
    "Melicom0701__signlanguage_lstm",
    "NiranjanV823__Sign-Language-Detection",
    "Bhavyagokhroo__Sign-language-detection",
    "Amjad-Malik__Deep.Learning",
    "Minkeyyyy__1",
    "Mario13546__SeniorProject_ASL_Recognition",
    "Aryan9Dwivedi__Sign-Language-Detection",
)
# From MORE_SIGNS/manifest.json: a person with hello/thanks/iloveyou in SIGNERS and 30 each of yes and no
# in MORE_SIGNS, and one with hello/thanks/iloveyou and 30 `idle` recordings (a person in view, not signing).
YES_NO = "MokshaVS03__Action_to_Speech_Conversion"
IDLE = "Yashrajdps13__ASL_Detection-Flutter"


def need(path):
    """Skips the test where the developers' shared data is absent (a user's clone has none)."""
    if not path.exists():
        pytest.skip(f"{path} is absent: real clips and recordings live in ../shared beside the checkout (CI and developers only)")
    return path


def _archive(folder, name):
    path = need(folder) / f"{name}.npz.xz"
    if not path.is_file():  # the shared folder is there but the named person is not: a broken setup, not a skip
        pytest.fail(f"{path}: no such archive; pick test subjects from {folder / 'manifest.json'}")
    return path


def signer_archive(name):
    """The hello/thanks/iloveyou archive of the person `name` (a file stem of SIGNERS)."""
    return _archive(SIGNERS, name)


def more_signs_archive(name):
    """The other signs (idle, yes, no, ...) of the person `name` (a file stem of MORE_SIGNS)."""
    return _archive(MORE_SIGNS, name)


@pytest.fixture(scope="session")
def clips():
    """The labelled clips of ../shared/videos: {label or file: path}."""
    manifest = json.loads((need(VIDEOS) / "manifest.json").read_text())["clips"]
    return {clip["label"] or clip["file"]: VIDEOS / clip["file"] for clip in manifest}


@pytest.fixture(scope="session")
def clip_manifest():
    return json.loads((need(VIDEOS) / "manifest.json").read_text())["clips"]


def read_video(path):
    """A clip's frames (BGR images) and its frame rate."""
    import cv2
    capture = cv2.VideoCapture(str(path))
    images = []
    while (image := capture.read()[1]) is not None:
        images.append(image)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return images, fps


def write_video(target, images, fps):
    """Writes images (BGR) as an mp4 clip."""
    import cv2
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for image in images:
        writer.write(image)
    writer.release()


def signlang_command(*args):
    """The installed `signlang` command line with these arguments."""
    return [str(Path(sys.executable).with_name("signlang")), *map(str, args)]


def run_cli(*args, check=True, timeout=600, env=None):
    """Runs the installed `signlang` command as a user would (`env`: extra variables); returns the CompletedProcess."""
    command = signlang_command(*args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result
