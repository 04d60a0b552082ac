"""Crash safety: real `signlang` processes killed with SIGKILL at random moments (collect from a video; train
while it trains, while it saves and after; export), then the files on disk are checked and the next run must
work.

The moments are drawn at random, relative to what the process is doing (a sequence written, the model's
temporary file appearing, the model in place); CRASH_SEED=<n> replays a run, and every failure names its seed.
"""

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import FULL_FACE, ROOT, VIDEOS, need, run_cli, signer_archive, signlang_command
from signlang import data
from signlang.layout import FRAME_SIZE

SEED = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(10**6))
CLIP = VIDEOS / "KwaiVGI__LivePortrait__s18.mp4"  # 9.4 s: 7 sequences of 30 frames at 25 frames/s


@pytest.fixture
def rng():
    return random.Random(SEED)


def killed(args, trigger, env=None, timeout=300):
    """Runs `signlang *args` and SIGKILLs it once trigger() is true (polled every millisecond).

    Returns True when it was killed, False when it exited first.
    """
    command = signlang_command(*args)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if trigger():
                process.kill()
                return True
            assert time.monotonic() < deadline, f"{command} still running after {timeout} s (seed {SEED})"
            time.sleep(0.001)
        return False
    finally:
        process.kill()
        process.wait()


def after(delay, condition):
    """A trigger: true `delay` seconds after condition() first held."""
    since = []

    def trigger():
        if not since and condition():
            since.append(time.monotonic())
        return bool(since) and time.monotonic() - since[0] >= delay
    return trigger


def hidden(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_write_removes_the_temporary_files_of_killed_writers_only(tmp_path):
    from signlang.atomic import write_bytes
    dead = subprocess.Popen(["true"])
    dead.wait()
    target = tmp_path / "m.h5"
    stale = tmp_path / f".m.h5.{dead.pid}.tmp.h5"  # its writer was killed
    alive = tmp_path / f".m.h5.{os.getppid()}.tmp.h5"  # its writer still runs
    other = tmp_path / f".m.h5.5.{dead.pid}.tmp"  # another file's (m.h5.5)
    for path in (stale, alive, other):
        path.write_bytes(b"half a model")
    write_bytes(target, b"model")
    assert target.read_bytes() == b"model"
    assert hidden(tmp_path) == sorted([alive.name, other.name])


# --- collect --------------------------------------------------------------------------------------------

def sequences(action_dir):
    """{number: hash of its frames} of the numbered sequence folders, each checked to be complete."""
    found = {}
    for folder in sorted(p for p in action_dir.iterdir() if not p.name.startswith(".")):
        names = sorted(p.name for p in folder.iterdir())
        assert names == sorted(f"{i}.npy" for i in range(30)), f"{folder}: incomplete sequence {names} (seed {SEED})"
        frames = np.stack([np.load(folder / f"{i}.npy") for i in range(30)])
        assert frames.shape == (30, FRAME_SIZE) and np.isfinite(frames).all(), f"{folder} (seed {SEED})"
        found[int(folder.name)] = hashlib.sha256(frames.tobytes()).hexdigest()
    return found


def test_collect_killed_at_random_moments_leaves_only_complete_sequences(tmp_path, rng):
    need(CLIP)
    mp_data = tmp_path / "MP_Data"
    action = mp_data / "hello"
    collect = lambda n: ("collect", "--actions", "hello", "--sequences", n, "--data", mp_data, "--source", CLIP,
                         "--no-window")
    entries = lambda: set(os.listdir(action)) if action.is_dir() else set()
    # 1. at a random point of the recording after the first sequence was written;
    # 2. while a sequence's frames are being written (its hidden temporary folder just appeared)
    first = lambda: any(not name.startswith(".") for name in entries())
    partial = lambda known: lambda: any(n.startswith(".partial-") for n in entries() - known)
    kept = {}
    for trigger in (lambda: after(rng.uniform(0, 4), first), lambda: after(rng.uniform(0, 0.005), partial(entries()))):
        killed(collect(100), trigger())
        now = sequences(action)
        assert {n: h for n, h in now.items() if n in kept} == kept, f"a sequence was changed (seed {SEED})"
        kept = now
    assert kept, f"no sequence survived (seed {SEED})"
    # what a killed run leaves (hidden .partial-* folders) is ignored: training data loads every sequence
    assert len(data.load(mp_data, progress=False).y) == len(kept)
    assert all(name.startswith(".partial-") for name in hidden(action)), hidden(action)

    run_cli(*collect(2))  # the next run works and numbers after the survivors
    final = sequences(action)
    assert {n: h for n, h in final.items() if n in kept} == kept
    assert sorted(final) == sorted(kept) + [max(kept) + 1, max(kept) + 2]
    assert len(data.load(mp_data, progress=False).y) == len(final)


# A kill at one exact moment: the instant a recorded sequence is moved to its numbered folder (os.rename or
# os.replace onto MP_Data/<action>/<n>), injected in a real `signlang collect` process.
KILLED_WHILE_NUMBERING = """
import os, signal, sys
from signlang import cli

def killing(move):
    def moved(source, target, *args, **kwargs):
        if os.path.basename(os.fspath(target)).isdigit():
            os.kill(os.getpid(), signal.SIGKILL)
        return move(source, target, *args, **kwargs)
    return moved

os.rename, os.replace = killing(os.rename), killing(os.replace)
sys.exit(cli.main(sys.argv[1:]))
"""


def test_collect_killed_while_numbering_a_sequence_leaves_no_empty_sequence(tmp_path):
    need(CLIP)
    mp_data = tmp_path / "MP_Data"
    collect = ("collect", "--actions", "hello", "--sequences", 1, "--data", mp_data, "--source", CLIP, "--no-window")
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_NUMBERING, *map(str, collect)], timeout=300,
                          capture_output=True, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert sequences(mp_data / "hello") == {}  # no sequence folder, not even an empty one
    run_cli(*collect)
    assert list(sequences(mp_data / "hello")) == [0]
    assert len(data.load(mp_data, progress=False).y) == 1


# --- train ----------------------------------------------------------------------------------------------

ACTIONS = ["hello", "thanks", "iloveyou", "idle"]  # of action.h5 and of the models trained here


def loads(model_path):
    """The model's action names, reading it the way detect and evaluate do."""
    from signlang.model import load_actions, load_model
    return load_actions(model_path, load_model(model_path))


def test_train_killed_at_random_moments_leaves_the_old_model_or_the_new_one(tmp_path, rng):
    archive = signer_archive(FULL_FACE[0])
    model, curve, logs = tmp_path / "my_action.h5", tmp_path / "my_action.png", tmp_path / "Logs"
    shutil.copy(ROOT / "action.h5", model)  # an earlier model, which a killed run must not damage
    command = ("train", "--data", archive, "--model", model, "--logdir", logs, "--members", 1, "--epochs", 2)
    runs = lambda: len(os.listdir(logs)) if logs.is_dir() else 0
    saving = lambda: any(n.startswith(f".{model.name}.") for n in hidden(tmp_path))
    moments = {  # each made just before its run, from the state on disk then
        "while training (its TensorBoard run started)": lambda: after(rng.uniform(0, 3), lambda n=runs(): runs() > n),
        "while the model is written (its temporary file appeared)": lambda: after(rng.uniform(0, 0.2), saving),
        "after the model is in place (the curve, exit)":
            lambda: after(rng.uniform(0, 0.05), lambda inode=model.stat().st_ino: model.stat().st_ino != inode),
    }
    for moment, trigger in moments.items():
        before, inode = digest(model), model.stat().st_ino
        assert killed(command, trigger()), f"train ended before the kill {moment} (seed {SEED})"
        # the old file untouched, or a new one renamed over it whole
        assert digest(model) == before or model.stat().st_ino != inode, f"written in place {moment} (seed {SEED})"
        assert loads(model) == ACTIONS, f"{moment} (seed {SEED})"
        if curve.exists():
            from matplotlib.image import imread
            assert imread(curve).ndim == 3, f"{curve}: half written {moment} (seed {SEED})"

    # the next run works, and the temporary files of the killed runs are gone
    run_cli(*command)
    assert loads(model) == ACTIONS
    assert hidden(tmp_path) == [], f"left behind: {hidden(tmp_path)} (seed {SEED})"


# --- export ---------------------------------------------------------------------------------------------

def test_export_killed_at_random_moments_writes_a_whole_litert_file_or_none(tmp_path, rng):
    from signlang.predictor import Predictor
    from signlang.detector import WINDOW_SHAPE

    out = tmp_path / "action.tflite"
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache)}
    command = ("export", "--model", ROOT / "action.h5", "--out", out)

    def whole(path):
        probs = Predictor(path.read_bytes(), None)(np.zeros(WINDOW_SHAPE, np.float32))
        return probs.shape == (4,) and np.isfinite(probs).all()

    def check():
        assert not out.exists() or whole(out), f"{out}: half written (seed {SEED})"
        converted = [p for p in (cache / "signlang").glob("*") if not p.name.startswith(".")] if cache.exists() else []
        assert all(whole(p) for p in converted), f"half-written cache file (seed {SEED})"

    # 1. at a random moment of the conversion (TensorFlow loaded, model converted, checked, cached, written)
    killed(command, after(rng.uniform(5, 40), lambda: True), env)
    check()
    # 2. the moment a temporary file appears (the cache or the output being written)
    writing = lambda: hidden(tmp_path) or (cache / "signlang").is_dir() and hidden(cache / "signlang")
    killed(command, writing, env)
    check()

    run_cli(*command, env=env)
    assert whole(out)
    assert hidden(tmp_path) == [], f"left behind: {hidden(tmp_path)} (seed {SEED})"
