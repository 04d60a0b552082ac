"""Property-based bad-input tests (Hypothesis): what a user hands us, damaged at random.

MP_Data trees (truncated, empty, wrong-shaped or non-numeric .npy files, NaN, text named .npy, missing and
extra frames, extra folders, symlinks, unreadable files), archives (.npz, .npz.xz), model files (truncated or
garbled HDF5, HDF5 without a model, recorded actions that make no sense, a model of another input shape,
text) and label CSVs of `evaluate --videos`. Every case ends in a result or in one SignlangError, which the
CLI prints as the single line `signlang: error: <path>: <problem>` with exit code 2: never another
exception, never a hang (each case runs under a time limit). The library is driven in-process; a few cases
go through the real `signlang` command to check the line and the exit code. The hand-written bad-input
tests (test_data.py, test_evaluate.py, test_model.py) stay; these look for what they miss.
"""

import contextlib
import csv
import ctypes
import io
import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from signlang import data, evaluate
from signlang import model as M
from signlang.errors import SignlangError

ACTIONS = ("hello", "thanks", "iloveyou")
LIMIT = 60  # seconds a single case may take, in-process (a hang fails the test instead of stalling the run)
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


# --- the contract -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def time_limit(seconds=LIMIT):
    def expired(*_):
        raise TimeoutError(f"no answer within {seconds} s: a hang")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_line(line, *paths):
    """The CLI's error line: one line, `signlang: error: <path>: <problem>`, the path one of ours."""
    assert "\n" not in line.rstrip("\n") and "\r" not in line, repr(line)
    assert re.match(r"^signlang: error: .+?: \S", line), line
    assert any(line.startswith(f"signlang: error: {p}") for p in paths), f"{line!r} names none of {paths}"


def outcome(call, *paths):
    """call() returns a result, or raises a SignlangError whose CLI line names one of `paths`; anything else
    (a traceback for the user) propagates and fails the test."""
    with time_limit():
        try:
            return call()
        except SignlangError as error:
            check_line(f"signlang: error: {error}", *paths)
            return error


def run_signlang(*args, timeout=180):
    """The installed command as a user runs it; the timeout is the bound on a hang."""
    command = [str(Path(sys.executable).with_name("signlang")), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "MPLBACKEND": "Agg"})


def check_cli(result, *paths):
    """A real run: exit 0, or exit 2 with exactly one stderr line naming one of `paths`. Never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if result.returncode == 0:
        return None
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr[-3000:]}"
    assert result.stderr.count("\n") == 1, result.stderr[-3000:]
    check_line(result.stderr, *paths)
    return result.stderr


def check_dataset(ds):
    assert ds.X.dtype == np.float32 and ds.X.shape[1:] == (30, 1662) and len(ds.y) == len(ds.X) == len(ds.groups)
    assert np.isfinite(ds.X).all()


# --- MP_Data trees ------------------------------------------------------------------------------------------

def replace(path):
    """Removes whatever is at path (file, symlink, folder) so a damage can put something else there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def lying_header(shape=(10 ** 12,)):
    """A .npy header that claims a huge array, followed by a few bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * 64


def write_tree(root, n_actions, n_sequences, seed):
    rng = np.random.default_rng(seed)
    for action in ACTIONS[:n_actions]:
        for sequence in range(n_sequences):
            folder = root / action / str(sequence)
            folder.mkdir(parents=True)
            for i in range(30):
                np.save(folder / f"{i}.npy", rng.uniform(0, 1, 1662).astype(np.float32))


TREE_DAMAGE = ("truncate", "empty", "shape", "nan", "text", "missing", "extra_frame", "dtype", "lying_header",
               "npz_as_npy", "folder_as_frame", "broken_symlink", "symlink_loop", "frame_symlink",
               "sequence_loop", "action_to_root", "extra_folder", "empty_action", "stray_file", "hidden_junk")
SHAPES = [(), (0,), (1661,), (1663,), (2, 831), (30, 1662), (1662, 1)]
DTYPES = [np.bool_, np.complex64, "<U3", [("x", "<f4"), ("y", "<f4")], object, np.int16, ">f8"]


def damage_tree(root, kind, a, s, f, param, n_actions, n_sequences):
    action = root / ACTIONS[a % n_actions]
    sequence = action / str(s % n_sequences)
    sequence.mkdir(parents=True, exist_ok=True)
    frame = sequence / f"{f % 30}.npy"
    if kind == "truncate" and frame.is_file() and not frame.is_symlink():
        raw = frame.read_bytes()
        frame.write_bytes(raw[:param % max(len(raw), 1)])
    elif kind == "empty":
        replace(frame)
        frame.write_bytes(b"")
    elif kind == "shape":
        replace(frame)
        np.save(frame, np.zeros(SHAPES[param % len(SHAPES)], np.float32))
    elif kind == "nan":
        values = np.zeros(1662, np.float32)
        values[param % 1662] = (np.nan, np.inf, -np.inf)[param % 3]
        replace(frame)
        np.save(frame, values)
    elif kind == "text":
        replace(frame)
        frame.write_text("0.1 0.2 0.3\nnot numpy, a text file named .npy\n")
    elif kind == "missing":
        replace(frame)
    elif kind == "extra_frame":
        np.save(sequence / ("30.npy", "031.npy", "99.npy")[param % 3], np.zeros(1662, np.float32))
    elif kind == "dtype":
        dtype = DTYPES[param % len(DTYPES)]
        replace(frame)
        np.save(frame, np.zeros(1662, dtype), allow_pickle=dtype is object)
    elif kind == "lying_header":
        replace(frame)
        frame.write_bytes(lying_header(((10 ** 12,), (2 ** 40, 1662), (1662,))[param % 3]))
    elif kind == "npz_as_npy":
        replace(frame)
        with open(frame, "wb") as out:
            np.savez(out, frame=np.zeros(1662))
    elif kind == "folder_as_frame":
        replace(frame)
        frame.mkdir()
    elif kind == "broken_symlink":
        replace(frame)
        frame.symlink_to(root / "nowhere.npy")
    elif kind == "symlink_loop":
        replace(frame)
        frame.symlink_to(frame)
    elif kind == "frame_symlink":
        replace(frame)
        frame.symlink_to(root / ACTIONS[0] / "0" / "0.npy")
    elif kind == "sequence_loop" and not (action / "77").is_symlink():
        (action / "77").symlink_to(action, target_is_directory=True)
    elif kind == "action_to_root" and not (root / "zz_root").is_symlink():
        (root / "zz_root").symlink_to(root, target_is_directory=True)
    elif kind == "extra_folder":
        (action / "notes").mkdir(exist_ok=True)
        (action / "notes" / "todo.txt").write_text("record more")
    elif kind == "empty_action":
        (root / "goodbye").mkdir(exist_ok=True)
    elif kind == "stray_file":
        (root / "README.txt").write_text("my data")
        (action / "0.npy").write_bytes(b"a frame in the wrong place")
    elif kind == "hidden_junk":
        (action / ".partial-x").mkdir(exist_ok=True)
        (action / ".partial-x" / "0.npy").write_bytes(b"half")


damage = st.tuples(st.sampled_from(TREE_DAMAGE), st.integers(0, 2), st.integers(0, 2), st.integers(0, 29),
                   st.integers(0, 10 ** 6))
tree_shape = st.tuples(st.integers(1, 3), st.integers(1, 2))


def damaged_tree(folder, shape, damages, seed):
    root = folder / "MP_Data"
    write_tree(root, *shape, seed)
    for d in damages:
        damage_tree(root, *d, *shape)
    return root


@settings(FAST, max_examples=60)
@given(shape=tree_shape, damages=st.lists(damage, min_size=1, max_size=4), seed=st.integers(0, 2 ** 16))
@example(shape=(1, 1), damages=[("lying_header", 0, 0, 5, 0)], seed=0)  # was a MemoryError traceback
@example(shape=(1, 1), damages=[("dtype", 0, 0, 3, 1)], seed=0)        # complex keypoints were taken as numbers
@example(shape=(2, 1), damages=[("npz_as_npy", 1, 0, 0, 0)], seed=0)   # an .npz under a .npy name
@example(shape=(1, 1), damages=[("missing", 0, 0, 0, 0)], seed=0)      # nothing usable left: the path first
def test_damaged_trees_load_or_name_the_damage(shape, damages, seed):
    with tempfile.TemporaryDirectory() as folder:
        root = damaged_tree(Path(folder), shape, damages, seed)
        strict = outcome(lambda: data.load(root, progress=False), root)
        lenient = outcome(lambda: data.load(root, skip_bad=True, progress=False), root)
        if not isinstance(strict, SignlangError):
            check_dataset(strict)
        if isinstance(lenient, SignlangError):
            assert "no usable sequences" in str(lenient) or isinstance(strict, SignlangError)
        else:
            check_dataset(lenient)
            assert all(p.startswith(str(root)) and "\n" not in p for p in lenient.skipped)


def test_complex_or_boolean_keypoints_are_refused(tmp_path):
    for dtype in (np.complex64, np.bool_):
        root = damaged_tree(tmp_path / np.dtype(dtype).name, (1, 1), [], 0)
        np.save(root / "hello" / "0" / "3.npy", np.ones(1662, dtype))
        with pytest.raises(SignlangError, match=r"3.npy: keypoints must be finite numbers"):
            data.load(root, progress=False)


# --- archives -----------------------------------------------------------------------------------------------

ARCHIVE_DAMAGE = ("none", "truncate", "garble", "text", "empty", "keys", "X_shape", "y_length", "nan",
                  "X_strings", "X_objects", "lying_header", "not_npz")


def damaged(raw, kind, param, rng, span, text):
    """raw bytes truncated, garbled over `span` bytes, replaced by `text` or emptied (other kinds: unchanged)."""
    if kind == "truncate":
        return raw[:param % len(raw)]
    if kind == "garble":
        at = param % len(raw)
        return raw[:at] + bytes(rng.integers(0, 256, span, dtype=np.uint8)) + raw[at + span:]
    return {"text": text, "empty": b""}.get(kind, raw)


def archive_bytes(kind, n, param, compressed, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 30, 1662)).astype(np.float32)
    y = np.array([("hello", "thanks", "idle")[i % 3] for i in range(n)])
    arrays = {"X": X, "y": y}
    if kind == "keys":
        arrays = {"frames": X, "labels": y}
    elif kind == "X_shape":
        arrays["X"] = np.zeros([(n, 29, 1662), (n, 30), (), (n, 30, 1662, 1)][param % 4], np.float32)
    elif kind == "y_length":
        arrays["y"] = y[:-1] if n > 1 else np.array(["a", "b"])
    elif kind == "nan":
        X.flat[param % X.size] = np.nan
    elif kind == "X_strings":
        arrays["X"] = np.full((n, 30, 1662), "a")
    elif kind == "X_objects":
        arrays["X"] = np.empty((n, 30, 1662), object)
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    raw = damaged(buffer.getvalue(), kind, param, rng, 64, b"X,y\n0.1,hello\n")
    if kind == "lying_header":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("X.npy", lying_header())
            z.writestr("y.npy", lying_header())
        raw = buffer.getvalue()
    elif kind == "not_npz":
        raw = bytes(rng.integers(0, 256, 200, dtype=np.uint8))
    return raw


@settings(FAST, max_examples=50)
@given(kind=st.sampled_from(ARCHIVE_DAMAGE), n=st.integers(1, 3), param=st.integers(0, 10 ** 6),
       compressed=st.booleans(), xz=st.booleans(), named_xz=st.booleans(), truncate_xz=st.integers(0, 200),
       seed=st.integers(0, 2 ** 16))
@example(kind="truncate", n=2, param=300, compressed=False, xz=False, named_xz=False, truncate_xz=0, seed=0)  # BadZipFile
@example(kind="garble", n=1, param=200, compressed=True, xz=False, named_xz=False, truncate_xz=0, seed=0)    # bad CRC
@example(kind="X_strings", n=1, param=0, compressed=False, xz=True, named_xz=True, truncate_xz=0, seed=0)  # TypeError
@example(kind="lying_header", n=1, param=0, compressed=False, xz=False, named_xz=False, truncate_xz=0, seed=0)  # MemoryError
def test_damaged_archives_load_or_name_the_damage(kind, n, param, compressed, xz, named_xz, truncate_xz, seed):
    raw = archive_bytes(kind, n, param, compressed, seed)
    if xz:
        raw = lzma.compress(raw)
        raw = raw[:len(raw) - truncate_xz] if truncate_xz < len(raw) else raw
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("person.npz.xz" if named_xz else "person.npz")
        path.write_bytes(raw)
        np.savez(Path(folder) / "good.npz", X=np.zeros((1, 30, 1662), np.float32), y=np.array(["hello"]))
        one = outcome(lambda: data.load(path, progress=False), path)
        both = outcome(lambda: data.load(folder, skip_bad=True, progress=False), folder)
        assert not isinstance(both, SignlangError), both  # the good archive is always there
        check_dataset(both)
        if not isinstance(one, SignlangError):
            check_dataset(one)
            assert len(both.y) == len(one.y) + 1


# --- model files --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small real model files: one of the right shape with 'no sign', one of another input shape."""
    import keras
    folder = tmp_path_factory.mktemp("models")
    right = keras.Sequential([keras.Input((30, 1662)), keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(4, activation="softmax")])
    M.save(right, folder / "right.h5", list(ACTIONS) + ["idle"], no_sign="idle")
    other = keras.Sequential([keras.Input((20, 100)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    M.save(other, folder / "other_shape.h5", ACTIONS)
    return {"right": (folder / "right.h5").read_bytes(), "other_shape": (folder / "other_shape.h5").read_bytes()}


MODEL_DAMAGE = ("none", "truncate", "garble", "text", "empty", "hdf5_no_model", "actions_attr", "no_sign_attr",
                "npz", "folder")
ATTRS = ['not json', '{"a": 1}', '[1, 2, 3, 4]', '["hello"]', '["a", "b", "c", "d"]', "", '["hello", null, "x", "y"]']


def model_file(path, base, kind, param, seed):
    rng = np.random.default_rng(seed)
    raw = damaged(base, kind, param, rng, 256, b"model = Sequential()\nmodel.add(LSTM(64))\n")
    if kind == "npz":
        buffer = io.BytesIO()
        np.savez(buffer, weights=np.zeros(10))
        raw = buffer.getvalue()
    if kind == "folder":
        path.mkdir()
        return path
    if kind == "hdf5_no_model":
        with h5py.File(path, "w") as f:
            f["weights"] = rng.uniform(0, 1, 10)
            f.attrs[M.ACTIONS_ATTR] = ATTRS[param % len(ATTRS)]
        return path
    path.write_bytes(raw)
    if kind in ("actions_attr", "no_sign_attr"):
        with h5py.File(path, "a") as f:
            if kind == "actions_attr":
                f.attrs[M.ACTIONS_ATTR] = ATTRS[param % len(ATTRS)]
            else:
                f.attrs[M.NO_SIGN_ATTR] = ("", "nothing", "idle", "hello")[param % 4]
    return path


def load_everything(path):
    model = M.load_model(path)
    M.check_input(model, path)
    actions = M.load_actions(path, model)
    return actions, M.load_no_sign(path)


@settings(FAST, max_examples=30)
@given(base=st.sampled_from(["right", "other_shape"]), kind=st.sampled_from(MODEL_DAMAGE),
       suffix=st.sampled_from([".h5", ".keras", ".hdf5"]), param=st.integers(0, 10 ** 6), seed=st.integers(0, 2 ** 16))
@example(base="other_shape", kind="none", suffix=".h5", param=0, seed=0)  # evaluate fed it windows: ValueError
@example(base="right", kind="actions_attr", suffix=".h5", param=0, seed=0)  # recorded actions not JSON
@example(base="right", kind="text", suffix=".h5", param=0, seed=0)  # load_no_sign: OSError
@example(base="right", kind="no_sign_attr", suffix=".h5", param=1, seed=0)  # 'no sign' not among the actions
def test_damaged_or_foreign_models_load_or_name_the_problem(models, base, kind, suffix, param, seed):
    with tempfile.TemporaryDirectory() as folder:
        path = model_file(Path(folder) / f"action{suffix}", models[base], kind, param, seed)
        result = outcome(lambda: load_everything(path), path)
        if base == "other_shape":
            assert isinstance(result, SignlangError)
        if not isinstance(result, SignlangError):
            actions, no_sign = result
            assert len(actions) == 4 and all(isinstance(a, str) for a in actions)
            assert no_sign is None or no_sign in actions
        # load_no_sign alone, as evaluate --videos and the predictor call it: never an OSError
        outcome(lambda: M.load_no_sign(path), path)


def test_a_damaged_or_unwritable_cache_costs_a_conversion_not_a_traceback(tmp_path, models, monkeypatch, capsys):
    from signlang.predictor import load_predictor
    path = tmp_path / "right.h5"
    path.write_bytes(models["right"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    window = np.zeros((30, 1662), np.float32)
    expected = load_predictor(path)(window)
    cached, = (tmp_path / "cache" / "signlang").glob("*.tflite")
    for damage in (b"", cached.read_bytes()[:1000], b"TFL3" + b"\xff" * 5000):
        cached.write_bytes(damage)
        assert np.allclose(outcome(lambda: load_predictor(path), path)(window), expected, atol=1e-6)
        assert cached.read_bytes() != damage  # converted again and cached
    shutil.rmtree(tmp_path / "cache" / "signlang")
    (tmp_path / "cache" / "signlang").write_text("a file where the cache folder goes")
    assert np.allclose(outcome(lambda: load_predictor(path), path)(window), expected, atol=1e-6)
    assert "signlang: note: cannot cache the converted model" in capsys.readouterr().err


# --- label CSVs (evaluate --videos) --------------------------------------------------------------------------

NAMES = ["hello.mp4", "clips/two.mov", "frames", "missing.mp4", "../outside.mp4", "x" * 300 + ".mp4",
         "a\nb.mp4", "nul\0.mp4", "", "  hello.mp4  ", "HELLO.MP4", "frames/0.jpg", "file", "/etc/hostname"]
SIGNS = ["hello", "thanks iloveyou", "", "idle", "goodbye", "hello,thanks", "hello  hello", '"hello"', "héllo"]
cell = st.one_of(st.sampled_from(NAMES + SIGNS), st.text(max_size=20))


def label_folder(folder):
    """Clips a CSV may name: two video files (empty: read_labels checks names, not contents) and an image folder."""
    (folder / "hello.mp4").write_bytes(b"")
    (folder / "clips").mkdir()
    (folder / "clips" / "two.mov").write_bytes(b"")
    (folder / "frames").mkdir()
    (folder / "frames" / "0.jpg").write_bytes(b"")


@settings(FAST, max_examples=80)
@given(rows=st.lists(st.lists(cell, max_size=4), max_size=6), raw=st.booleans(),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]), header=st.booleans())
@example(rows=[["x" * 300 + ".mp4", "hello"]], raw=False, encoding="utf-8", header=False)  # was OSError: name too long
@example(rows=[["a\nb.mp4", "hello"]], raw=False, encoding="utf-8", header=True)  # a line break made two error lines
@example(rows=[["hello.mp4", "hello"], ["a" * 200000]], raw=False, encoding="utf-8", header=False)  # field limit
def test_label_csvs_read_or_name_the_row(rows, raw, encoding, header):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        label_folder(folder)
        path = folder / "labels.csv"
        rows = ([["file", "signs"]] if header else []) + rows
        if raw:
            text = "\n".join(",".join(r) for r in rows)
        else:
            buffer = io.StringIO()
            csv.writer(buffer).writerows(rows)
            text = buffer.getvalue()
        path.write_bytes(text.encode(encoding, errors="replace"))
        labels = outcome(lambda: evaluate.read_labels(path, actions=list(ACTIONS) + ["idle"]), path)
        if not isinstance(labels, SignlangError):
            assert labels and all(clip.exists() for clip, _ in labels)
            outcome(lambda: evaluate.check_signs(labels, list(ACTIONS) + ["idle"], "idle"), path)


@settings(FAST, max_examples=30)
@given(entries=st.lists(st.tuples(st.sampled_from(["hello", "idle", "goodbye", ".hidden", "thanks", ""]),
                                  st.sampled_from(["a.mp4", "b.MOV", "notes.txt", "imgs", "empty", ".x.mp4"])),
                        max_size=6))
def test_label_folders_read_or_name_the_problem(entries):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "clips"
        root.mkdir()
        for sign, name in entries:
            place = root / sign if sign else root
            place.mkdir(exist_ok=True)
            if name in ("imgs", "empty"):
                (place / name).mkdir(exist_ok=True)
                if name == "imgs":
                    (place / name / "0.png").write_bytes(b"")
            else:
                (place / name).write_bytes(b"")
        labels = outcome(lambda: evaluate.read_labels(root, actions=list(ACTIONS) + ["idle"]), root)
        if not isinstance(labels, SignlangError):
            assert labels and all(clip.exists() for clip, _ in labels)


# --- unreadable files and folders (permissions) ---------------------------------------------------------------

def _drop_file_override():
    """In the child, before exec: give up root's right to ignore file permissions (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH) so chmod 000 takes effect for it as for any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


def permission_blind():
    """preexec_fn that makes permissions count in a child process, or a pytest.skip reason."""
    probe = Path(tempfile.mkdtemp()) / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        try:
            probe.read_text()
        except PermissionError:
            return None  # not root: permissions already count
        child = subprocess.run(["cat", str(probe)], capture_output=True, preexec_fn=_drop_file_override)
        if child.returncode == 0:
            pytest.skip("running as root with CAP_DAC_OVERRIDE that cannot be dropped: an unreadable file is still "
                        "readable, so this case cannot be made")
        return _drop_file_override
    finally:
        shutil.rmtree(probe.parent)


UNREADABLE = ["frame", "sequence", "action", "root", "archive", "csv"]

CHILD = """
import json, sys
from signlang import data, evaluate
from signlang.errors import SignlangError
out = {}
for case, path in json.loads(sys.argv[1]).items():
    try:
        if case == "csv":
            evaluate.read_labels(path)
        else:
            data.load(path, skip_bad=case in ("frame", "sequence", "action"), progress=False)
        out[case] = "result"
    except SignlangError as e:
        out[case] = "signlang: error: " + str(e)
print(json.dumps(out))
"""


def test_unreadable_files_and_folders(tmp_path):
    """chmod 000 on a frame, a sequence, an action, the whole tree, an archive and a CSV: a one-line error (or,
    with --skip-bad, the rest of the tree)."""
    preexec = permission_blind()
    cases = {}
    for case in UNREADABLE:
        folder = tmp_path / case
        root = damaged_tree(folder, (2, 2), [], 0)
        target = {"frame": root / "hello" / "1" / "4.npy", "sequence": root / "hello" / "1", "action": root / "thanks",
                  "root": root}.get(case)
        if case == "archive":
            target = folder / "person.npz"
            np.savez(target, X=np.zeros((1, 30, 1662), np.float32), y=np.array(["hello"]))
        if case == "csv":
            target = folder / "labels.csv"
            target.write_text("file,signs\nx.mp4,hello\n")
        target.chmod(0)
        cases[case] = str(target if case in ("archive", "csv") else root)
    try:
        child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases)], capture_output=True, text=True,
                               timeout=120, preexec_fn=preexec, cwd=ROOT)
        assert child.returncode == 0, child.stderr[-3000:]
        results = json.loads(child.stdout)
    finally:
        for path in tmp_path.rglob("*"):
            if not path.is_symlink():
                path.chmod(0o700)
    for case in ("frame", "sequence", "action"):  # skip_bad: the unreadable part is left out, the rest loads
        assert results[case] == "result", results
    for case in ("root", "archive", "csv"):
        assert results[case] != "result", results
        check_line(results[case], cases[case])
        assert "Permission denied" in results[case], results[case]


# --- through the real command: one line, exit code 2 ----------------------------------------------------------

@pytest.fixture(scope="module")
def good_tree(tmp_path_factory):
    return damaged_tree(tmp_path_factory.mktemp("good"), (3, 1), [], 1)


@settings(max_examples=1, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(shape=tree_shape, damages=st.lists(damage, min_size=1, max_size=3), seed=st.integers(0, 2 ** 16))
@example(shape=(2, 1), damages=[("hidden_junk", 0, 0, 0, 0), ("frame_symlink", 1, 0, 3, 0)], seed=0)  # a result
def test_cli_on_damaged_trees(shape, damages, seed):
    with tempfile.TemporaryDirectory() as folder:
        root = damaged_tree(Path(folder), shape, damages, seed)
        result = run_signlang("evaluate", "--data", root, "--model", ROOT / "action.h5", "--json")
        if check_cli(result, root) is None:
            assert json.loads(result.stdout)["n"] >= 1


def test_cli_on_a_damaged_archive(tmp_path):
    path = tmp_path / "person.npz.xz"
    path.write_bytes(lzma.compress(archive_bytes("truncate", 2, 5000, False, 0)))
    assert "not a readable archive" in check_cli(run_signlang("evaluate", "--data", path, "--json"), path)


def test_cli_on_a_model_of_another_shape(tmp_path, models, good_tree):
    """A real Keras model of another input shape: evaluate (was a ValueError traceback) and export refuse it."""
    from signlang.predictor import export
    other = tmp_path / "other.h5"
    other.write_bytes(models["other_shape"])
    line = check_cli(run_signlang("evaluate", "--data", good_tree, "--model", other, "--json"), other)
    assert "model takes input of shape (None, 20, 100)" in line
    error = outcome(lambda: export(other, tmp_path / "x.tflite"), other)
    assert "model takes windows of shape (20, 100)" in str(error) and not (tmp_path / "x.tflite").exists()


def test_cli_on_a_csv_with_an_impossible_file_name(tmp_path):
    path = tmp_path / "clips.csv"
    path.write_text("file,signs\nhello.mp4,hello\n" + "x" * 300 + ".mp4,thanks\n")
    (tmp_path / "hello.mp4").write_bytes(b"")
    line = check_cli(run_signlang("evaluate", "--videos", path, "--json"), path)
    assert line.startswith(f"signlang: error: {path}:3: ") and "not a usable file name" in line
