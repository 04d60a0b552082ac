"""`signlang doctor`: passes on this machine (no camera, no display: notes), and names each broken part with its fix."""

import ctypes
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from signlang import doctor
from signlang.doctor import NOTE, OK, PROBLEM

CHECKS = ["signlang", "python", "mediapipe", "tensorflow", "protobuf", "numpy", "opencv", "holistic", "camera",
          "display", "cache", "model"]


def signlang(*args, env=None):
    """The installed `signlang` command, run from the checkout (action.h5 is the default model)."""
    command = [str(Path(sys.executable).with_name("signlang")), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def doctor_cli(*args, env=None):
    return signlang("doctor", *args, env=env)


def test_passes_on_this_machine_one_line_per_check():
    result = doctor_cli()
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    for check in CHECKS:
        line = next((l for l in lines if l.split()[1:2] == [check]), None)
        assert line is not None, f"no line for {check}:\n{result.stdout}"
        assert line.split()[0] in (OK, NOTE), line
    assert "runs (" in next(l for l in lines if l.split()[1:2] == ["holistic"])
    assert "action.h5: hello, thanks, iloveyou" in result.stdout
    assert lines[-1] == "no problems found" and result.stderr == ""


def test_missing_model_is_a_problem_and_exit_1(tmp_path):
    result = doctor_cli("--json", "--model", tmp_path / "missing.h5")
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] is False and list(checks) == CHECKS
    assert checks["model"]["status"] == PROBLEM and "missing.h5: no such model file" in checks["model"]["message"]
    assert checks["model"]["fix"]
    assert [c for c in report["checks"] if c["status"] == PROBLEM] == [checks["model"]]


def test_a_file_in_place_of_the_cache_folder_is_a_problem_and_the_model_still_converts(tmp_path):
    """The cache folder's place taken by a file (root can write anywhere, so permissions cannot stand in)."""
    (tmp_path / "signlang").write_text("not a folder")
    result = doctor_cli("--json", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 1, result.stderr[-2000:]
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["cache"]["status"] == PROBLEM and str(tmp_path / "signlang") in checks["cache"]["message"]
    assert checks["cache"]["fix"].startswith("rm ")
    assert checks["model"]["status"] == OK, checks["model"]  # converted in memory, not cached


def _drop_file_override():
    """Child process, before exec: root gives up ignoring file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


def test_an_unwritable_cache_folder_is_a_problem(tmp_path):
    """chmod 500 on the cache folder; as root, in a child that gives up its right to ignore permissions."""
    (tmp_path / "signlang").mkdir()
    (tmp_path / "signlang").chmod(0o500)
    code = "from signlang import doctor; import json, dataclasses; print(json.dumps(dataclasses.asdict(doctor.check_cache())))"
    try:
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                               env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
                               preexec_fn=_drop_file_override if os.geteuid() == 0 else None)
    finally:
        (tmp_path / "signlang").chmod(0o700)
    assert child.returncode == 0, child.stderr[-2000:]
    check = json.loads(child.stdout)
    if check["status"] == OK and os.geteuid() == 0:
        pytest.skip("running as root with CAP_DAC_OVERRIDE that cannot be dropped: the folder stays writable")
    assert check["status"] == PROBLEM and "not a writable folder (Permission denied)" in check["message"]
    assert "chmod u+rwx" in check["fix"]


def test_mediapipe_without_solutions_is_explained(tmp_path):
    """A MediaPipe 0.10.30+ stand-in (a package without mediapipe.python.solutions) ahead on the path."""
    (tmp_path / "mediapipe").mkdir()
    (tmp_path / "mediapipe" / "__init__.py").write_text("__version__ = '0.10.31'\n")
    env = {"PYTHONPATH": str(tmp_path)}
    result = doctor_cli("--model", tmp_path / "missing.h5", env=env)
    holistic = next(l for l in result.stdout.splitlines() if l.split()[1:2] == ["holistic"])
    assert result.returncode == 1 and holistic.startswith(PROBLEM) and "mediapipe==0.10.21" in holistic, result.stdout
    detect = signlang("detect", "--source", tmp_path, env=env)
    assert detect.returncode == 2 and detect.stderr.count("\n") == 1, detect.stderr[-2000:]
    assert detect.stderr.startswith("signlang: error: mediapipe: Holistic cannot be imported")


@pytest.mark.parametrize("name, version, words", [
    ("mediapipe", "0.10.31", ["no mp.solutions", "0.10.30"]),
    ("protobuf", "5.29.3", ["protobuf 5", "mediapipe 0.10.21"]),
    ("numpy", "2.1.0", ["numpy 2"]),
    ("tensorflow", "2.20.0", ["protobuf 5"]),
    ("mediapipe", "0.10.14", ["pinned to ==0.10.21"]),
])
def test_known_breakages_are_explained_with_their_fix(name, version, words):
    pins, _ = doctor.read_pins()
    check = doctor.check_package(name, version, pins[name])
    assert check.status == PROBLEM and all(w in check.message for w in words), check
    wanted = "mediapipe==0.10.21" if name == "mediapipe" else shlex.quote(f"{name}{pins[name]}")
    assert "-m pip install" in check.fix and wanted in check.fix, check.fix


def test_pins_come_from_requirements_txt_and_versions_compare():
    pins, source = doctor.read_pins()
    assert source.endswith("requirements.txt")
    assert pins == {"mediapipe": "==0.10.21", "tensorflow": "==2.19.1", "protobuf": ">=4.25.3,<5", "numpy": ">=1.26,<2"}
    assert doctor.check_package("protobuf", "4.25.9", pins["protobuf"]).status == OK
    assert doctor.check_package("numpy", None, pins["numpy"]).status == PROBLEM
    assert doctor.satisfies("1.26.4", ">=1.26,<2") and not doctor.satisfies("2.0.0rc1", ">=1.26,<2")


def test_python_versions():
    assert doctor.check_python((3, 11, 7)).status == OK
    for version in ((3, 9, 18), (3, 13, 1)):
        check = doctor.check_python(version)
        assert check.status == PROBLEM and "3.10, 3.11 or 3.12" in check.message and "PYTHON=" in check.fix


def test_two_opencv_distributions_are_a_problem():
    check = doctor.check_opencv({"opencv-contrib-python": "4.11.0.86", "opencv-python": "4.12.0.88"})
    assert check.status == PROBLEM and "opencv-python 4.12.0.88" in check.message
    assert "uninstall -y opencv-python" in check.fix and "opencv-contrib-python==4.11.0.86" in check.fix
    assert doctor.check_opencv({"opencv-contrib-python": None}).status == PROBLEM
