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


def need(path):
    """Skips the test where the developers' shared data is absent (a user's clone has none)."""
    if not path.exists():
        pytest.skip(f"{path} is absent: real clips and recordings live in ../shared beside the checkout (CI and developers only)")
    return path


@pytest.fixture(scope="session")
def clips():
    """The labelled clips of ../shared/videos: {label or file: path}."""
    manifest = json.loads((need(VIDEOS) / "manifest.json").read_text())["clips"]
    return {clip["label"] or clip["file"]: VIDEOS / clip["file"] for clip in manifest}


@pytest.fixture(scope="session")
def clip_manifest():
    return json.loads((need(VIDEOS) / "manifest.json").read_text())["clips"]


def run_cli(*args, check=True, timeout=600):
    """Runs the installed `signlang` command as a user would; returns the CompletedProcess."""
    command = [str(Path(sys.executable).with_name("signlang")), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, "MPLBACKEND": "Agg"})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result
