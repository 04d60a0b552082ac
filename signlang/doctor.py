"""`signlang doctor`: checks the set-up and explains it, one line per check, each with the fix.

OK: works. note: works, with a limit worth knowing (no camera, no display: video files and the web page
still work, so a server or CI passes). problem: something a command will fail on; the exit code is then 1.

Nothing here may fail on a broken set-up: every check catches what the libraries raise and turns it into
a line, and the heavy libraries (MediaPipe, TensorFlow) are imported inside their checks only.
"""

import importlib.metadata
import json
import re
import shlex
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from signlang import config

OK, NOTE, PROBLEM = "OK", "note", "problem"
PYTHONS = ((3, 10), (3, 12))  # the interpreters mediapipe 0.10.21 and tensorflow 2.19.1 have wheels for
PINNED = ("mediapipe", "tensorflow", "protobuf", "numpy")
# The pins of requirements.txt, for an installation without it (the file is in the checkout, not the package).
KNOWN_PINS = {"mediapipe": "==0.10.21", "tensorflow": "==2.19.1", "protobuf": ">=4.25.3,<5", "numpy": ">=1.26,<2"}
OPENCV = ("opencv-contrib-python", "opencv-python", "opencv-contrib-python-headless", "opencv-python-headless")
WANTED_OPENCV = "opencv-contrib-python"  # the one mediapipe 0.10.21 depends on
CAMERA_TIMEOUT = 10.0  # seconds; some camera drivers never answer


@dataclass
class Check:
    check: str    # what was checked: python, mediapipe, camera, ...
    status: str   # OK, note or problem
    message: str  # what was found
    fix: str = "" # what to do about it (empty for OK)


def run_checks(model_path=config.MODEL_PATH):
    """Every check, in the order a set-up is built: interpreter, packages, MediaPipe, devices, cache, model."""
    pins, _ = read_pins()
    checks = [check_signlang(), check_python()]
    checks += [check_package(name, installed_version(name), pins[name]) for name in PINNED]
    checks += [check_opencv({name: installed_version(name) for name in OPENCV}),
               check_holistic(), check_camera(), check_display(), check_cache(), check_model(model_path)]
    return checks


def format_text(checks):
    width = max(len(c.check) for c in checks) + 2
    lines = [f"{c.status:<9}{c.check:<{width}}{c.message}" + (f"  -> {c.fix}" if c.fix else "") for c in checks]
    problems = sum(c.status == PROBLEM for c in checks)
    lines += ["", "no problems found" if not problems else
              f"{problems} problem{'s' * (problems != 1)}: fix them from the top (one often causes the next), "
              "then run `signlang doctor` again"]
    return "\n".join(lines)


def format_json(checks):
    return json.dumps({"ok": not any(c.status == PROBLEM for c in checks), "checks": [asdict(c) for c in checks]})


def main(model_path=config.MODEL_PATH, as_json=False):
    """Prints the checks; returns the exit code: 1 if any is a problem, else 0."""
    checks = run_checks(model_path)
    print(format_json(checks) if as_json else format_text(checks))
    return 1 if any(c.status == PROBLEM for c in checks) else 0


# --- interpreter and packages -----------------------------------------------------------------------------

def pip(*args):
    """The pip command of this very interpreter (a bare `pip` may belong to another Python)."""
    return " ".join([shlex.quote(sys.executable), "-m", "pip", *map(shlex.quote, args)])


def check_signlang():
    import signlang
    where = Path(signlang.__file__).resolve().parent
    try:
        version = importlib.metadata.version("signlang")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed: imported from the folder)"
    return Check("signlang", OK, f"{version} in {where}, Python {sys.executable}")


def check_python(version=None):
    version = tuple(version or sys.version_info[:3])
    text = ".".join(map(str, version))
    low, high = PYTHONS
    if low <= version[:2] <= high:
        return Check("python", OK, text)
    return Check("python", PROBLEM, f"{text}: signlang needs Python 3.10, 3.11 or 3.12 (mediapipe 0.10.21 and "
                                    "tensorflow 2.19.1 have no other wheels)",
                 "install Python 3.11 and make the environment with it: make setup PYTHON=/path/to/python3.11")


def installed_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_pins():
    """({package: version specifier} for PINNED, where they came from): the checkout's requirements.txt, else
    the installed package's metadata (made from it), else KNOWN_PINS."""
    requirements = Path(__file__).resolve().parents[1] / "requirements.txt"
    lines, source = [], "known pins"
    try:
        lines, source = requirements.read_text().splitlines(), str(requirements)
    except OSError:
        try:
            lines, source = importlib.metadata.requires("signlang") or [], "signlang's metadata"
        except importlib.metadata.PackageNotFoundError:
            pass
    found = {}
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;#]*)", line)
        if match and match.group(2).strip():
            found[_normal(match.group(1))] = match.group(2).strip().replace(" ", "")
    return {name: found.get(name, KNOWN_PINS[name]) for name in PINNED}, source


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def satisfies(version, spec):
    """Whether a version meets a specifier such as '>=4.25.3,<5' (packaging when present, else a plain reading)."""
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except Exception:  # no packaging, or a version it cannot read (a local build): compare the numbers
        pass
    ops = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a >= b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}
    for clause in filter(None, spec.split(",")):
        op, wanted = re.match(r"(==|!=|>=|<=|>|<)?(.*)", clause.strip()).groups()
        if not ops[op or "=="](_numbers(version), _numbers(wanted)):
            return False
    return True


def _numbers(version):
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0])[:4]]
    return tuple(parts + [0] * (4 - len(parts)))


def _at_least(version, minimum):
    return _numbers(version) >= _numbers(minimum)


def check_package(name, version, spec):
    """One pinned package: installed version against its pin, with what a known breakage means."""
    fix = pip("install", f"{name}{spec}")
    if version is None:
        return Check(name, PROBLEM, f"not installed (needs {spec})", fix)
    if satisfies(version, spec):
        return Check(name, OK, f"{version} (pinned {spec})")
    why = f"{version} installed, signlang is pinned to {spec}"
    if name == "mediapipe" and _at_least(version, "0.10.30"):
        why = (f"{version} has no mp.solutions: MediaPipe removed the legacy Holistic (and its bundled models) "
               "in 0.10.30, so keypoints cannot be extracted")
        fix = pip("install", "mediapipe==0.10.21")
    elif name == "protobuf" and _at_least(version, "5"):
        why = f"{version}: protobuf 5 and later break mediapipe 0.10.21, which is built for protobuf 4"
    elif name == "numpy" and _at_least(version, "2"):
        why = f"{version}: numpy 2 breaks mediapipe 0.10.21 and tensorflow 2.19.1, which are built against numpy 1.x"
    elif name == "tensorflow" and _at_least(version, "2.20"):
        why = f"{version}: tensorflow 2.20 and later need protobuf 5, which breaks mediapipe 0.10.21"
    return Check(name, PROBLEM, why, fix)


def check_opencv(installed):
    """installed: {distribution: version or None}. Exactly one OpenCV distribution may own the cv2 folder."""
    present = {name: version for name, version in installed.items() if version}
    if not present:
        return Check("opencv", PROBLEM, "no OpenCV installed (mediapipe needs opencv-contrib-python)",
                     pip("install", "--force-reinstall", "mediapipe==0.10.21"))
    if len(present) > 1:
        keep = WANTED_OPENCV if WANTED_OPENCV in present else sorted(present)[0]
        others = sorted(set(present) - {keep})
        names = " and ".join(f"{name} {version}" for name, version in sorted(present.items()))
        return Check("opencv", PROBLEM, f"{names} are both installed: they share the cv2 folder and overwrite each "
                                        "other's files (import errors, windows that do not open)",
                     f"{pip('uninstall', '-y', *others)} && "
                     f"{pip('install', '--force-reinstall', '--no-deps', f'{keep}=={present[keep]}')}")
    (name, version), = present.items()
    try:
        import cv2
    except Exception as e:
        return Check("opencv", PROBLEM, f"{name} {version} is installed but cv2 does not import ({_first_line(e)})",
                     pip("install", "--force-reinstall", "--no-deps", f"{name}=={version}"))
    if "headless" in name:
        return Check("opencv", NOTE, f"{name} {version}: no windows (collect and detect run headless)",
                     "for a window: " + pip("uninstall", "-y", name) + " && " + pip("install", WANTED_OPENCV))
    return Check("opencv", OK, f"{name} {version} (cv2 {cv2.__version__})")


def _first_line(error):
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _import_fix(error):
    """What to do about an exception raised while importing MediaPipe or TensorFlow."""
    text = str(error)
    if "solutions" in text:
        return pip("install", "mediapipe==0.10.21")
    if "protobuf" in text or "Descriptor" in text or "GetPrototype" in text:
        return pip("install", f"protobuf{KNOWN_PINS['protobuf']}")
    if "numpy" in text.lower() or "_ARRAY_API" in text:
        return pip("install", f"numpy{KNOWN_PINS['numpy']}")
    return pip("install", "-r", "requirements.txt") + " (in the signlang folder)"


# --- MediaPipe, camera, display ---------------------------------------------------------------------------

def generated_image():
    """A generated 320x240 picture (a grey gradient with a few shapes, no person): Holistic must run on it."""
    import numpy as np
    import cv2
    image = np.tile(np.linspace(40, 220, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    cv2.circle(image, (160, 90), 40, (90, 140, 200), -1)
    cv2.rectangle(image, (110, 140), (210, 240), (60, 60, 160), -1)
    return image


def check_holistic():
    try:
        from signlang import keypoints
        image = generated_image()
        with keypoints.open_holistic(static_image_mode=True) as model:
            _, results = keypoints.mediapipe_detection(image, model)
    except Exception as e:  # mediapipe without solutions, protobuf or numpy mismatches, missing models
        return Check("holistic", PROBLEM, f"MediaPipe Holistic does not run ({_first_line(e)})", _import_fix(e))
    parts = {"pose": results.pose_landmarks, "face": results.face_landmarks,
             "left hand": results.left_hand_landmarks, "right hand": results.right_hand_landmarks}
    found = [part for part, landmarks in parts.items() if landmarks is not None]
    return Check("holistic", OK, "runs (" + (f"found {', '.join(found)} in the test image" if found
                                             else "no person in the test image") + ")")


def check_camera(index=0, timeout=CAMERA_TIMEOUT):
    """Camera `index` opens and gives a frame. No camera is a note: video files and the web page need none."""
    no_camera = ("video files, image folders and the web page work without one: "
                 "signlang detect --source clip.mp4 --out annotated.mp4")
    if sys.platform.startswith("linux") and not any(Path("/dev").glob("video*")):
        return Check("camera", NOTE, "no camera (no /dev/video*)", no_camera)
    answer = {}

    def probe():
        try:
            import cv2
            cap = cv2.VideoCapture(index)
            try:
                answer["opened"] = cap.isOpened()
                ok, image = cap.read() if answer["opened"] else (False, None)
                answer["size"] = None if not ok or image is None else f"{image.shape[1]}x{image.shape[0]}"
            finally:
                cap.release()
        except Exception as e:
            answer["error"] = _first_line(e)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return Check("camera", NOTE, f"camera {index} did not answer within {timeout:g} s",
                     "close other programs using it, or unplug and plug it in again; " + no_camera)
    if "error" in answer:
        return Check("camera", NOTE, f"camera {index} cannot be probed ({answer['error']})", no_camera)
    if not answer["opened"]:
        return Check("camera", NOTE, f"camera {index} does not open (none attached, or no permission)",
                     "on a laptop allow camera access for the terminal; " + no_camera)
    if answer["size"] is None:
        return Check("camera", NOTE, f"camera {index} opens but gives no picture (in use by another program?)",
                     "close other programs using the camera (video calls, the browser)")
    return Check("camera", OK, f"camera {index} opens, {answer['size']} frames")


def check_display():
    from signlang.sources import has_display
    if has_display():
        return Check("display", OK, "windows can open (collect and detect show the camera picture)")
    return Check("display", NOTE, "no display: collect and detect run without a window",
                 "see the result with detect --out annotated.mp4, or run on a desktop session")


# --- cache and model ----------------------------------------------------------------------------------

def check_cache():
    """The folder of converted LiteRT models: it must be a writable folder (else every start converts again)."""
    from signlang.predictor import cache_dir
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
        models = sorted(folder.glob("*.tflite"))
    except OSError as e:
        reason = e.strerror or str(e)
        fix = (f"rm {shlex.quote(str(folder))}  (a file is in the folder's place)" if folder.is_file() and not folder.is_dir()
               else f"make it writable (chmod u+rwx {shlex.quote(str(folder))}), or set XDG_CACHE_HOME to a writable folder")
        return Check("cache", PROBLEM, f"{folder} is not a writable folder ({reason}): models are converted "
                                       "again on every start (slow)", fix)
    size = sum(p.stat().st_size for p in models) / 1e6
    return Check("cache", OK, f"{folder} ({len(models)} converted model{'s' * (len(models) != 1)}, {size:.1f} MB)")


def check_model(model_path=config.MODEL_PATH):
    """The model file loads, converts to LiteRT (or is in the cache), and names its actions and 'no sign'."""
    import contextlib
    import io
    path = Path(model_path)
    if not path.is_file():
        return Check("model", PROBLEM, f"{path}: no such model file",
                     "run from the signlang folder (action.h5 is there) or pass --model path/to/model.h5; "
                     "train one with signlang train")
    try:
        from signlang.errors import SignlangError
        from signlang.model import load_no_sign
        from signlang.predictor import load_predictor
        with contextlib.redirect_stderr(io.StringIO()):  # the cache's own note: check_cache reports it
            predictor = load_predictor(path)
        no_sign = load_no_sign(path)
    except SignlangError as e:
        return Check("model", PROBLEM, str(e), "pass a model written by signlang train (or the tutorial's "
                                               "model.save) with --model, or train one: signlang train")
    except Exception as e:  # TensorFlow itself broken
        return Check("model", PROBLEM, f"{path}: TensorFlow cannot load or convert it ({_first_line(e)})",
                     _import_fix(e))
    return Check("model", OK, f"{path}: {', '.join(predictor.actions)}; 'no sign' output: "
                              + (repr(no_sign) if no_sign else "none (a tutorial-style model)") + "; runs as LiteRT")
