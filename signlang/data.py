"""Training data: tutorial MP_Data trees and packed archives -> X (n, 30, 1662) float32, labels, groups.

Each MP_Data folder or archive is one group (usually one person), so splits can keep a person's
recordings together. Archives of the same name are one group: ../shared keeps a person's other signs in
a second folder under the same file name. Archives are .npz files (X, y) or xz-compressed ones (.npz.xz, as in ../shared).
"""

import io
import lzma
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from signlang import config
from signlang.errors import SignlangError
from signlang.layout import FRAME_SIZE, TUTORIAL_ORDER, find_order, misplaced_share, to_tutorial_order

ARCHIVE_SUFFIXES = (".npz", ".npz.xz")
FRAME_NAME = re.compile(r"^(\d+)\.npy$")


@dataclass
class Dataset:
    X: np.ndarray                 # (n, 30, 1662) float32
    y: np.ndarray                 # (n,) action names
    groups: np.ndarray            # (n,) the folder or archive each sequence came from
    actions: list                 # actions found, the tutorial's first (in its order), then the rest sorted
    skipped: list = field(default_factory=list)  # "path: problem" of inputs left out with skip_bad


class _Skipper:
    """Raises a problem at once, or with skip_bad=True records it and lets the caller move on."""

    def __init__(self, skip_bad):
        self.skip_bad, self.problems = skip_bad, []

    def __call__(self, path, problem):
        message = f"{path}: {problem}"
        if not self.skip_bad:
            raise SignlangError(message)
        self.problems.append(message)


def load(paths, skip_bad=False, length=config.SEQUENCE_LENGTH, progress=True):
    """Loads MP_Data folders, archives and folders of archives; one group per MP_Data folder or archive."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise SignlangError("no data paths given")
    skip = _Skipper(skip_bad)
    sources = [s for p in paths for s in _sources(p)]
    parts = []
    for source in tqdm(sources, unit="group", disable=not progress or len(sources) < 2, file=sys.stderr):
        part = _read_archive(source, length, skip) if _is_archive(source) else _read_tree(source, length, skip)
        if part is not None:
            parts.append((_group(source), _in_tutorial_order(source, part[0]), part[1]))
    if not parts:
        raise SignlangError(f"{', '.join(map(str, paths))}: no usable sequences"
                            + (f" ({len(skip.problems)} skipped)" if skip.problems else ""))
    if skip.problems:
        print(f"skipped {len(skip.problems)} bad inputs:", *skip.problems, sep="\n  ", file=sys.stderr)
    X = np.concatenate([X for _, X, _ in parts])
    y = np.concatenate([y for _, _, y in parts])
    groups = np.concatenate([np.full(len(y), name) for name, _, y in parts])
    return Dataset(X, y, groups, order_actions(set(y)), skip.problems)


def _in_tutorial_order(source, X):
    """X in the tutorial's keypoint layout: as it is, or rearranged from another order copies of the tutorial
    save (layout.OTHER_ORDERS), with one line saying so; kept as it is with a warning when the order is unknown."""
    order, tutorial = find_order(X), ", ".join(TUTORIAL_ORDER)
    if order == TUTORIAL_ORDER:
        return X
    if order is None:
        tqdm.write(f"signlang: warning: {source}: {misplaced_share(X):.0%} of frames have pose visibilities outside "
                   f"0..1: not the tutorial's keypoint order ({tutorial})?", file=sys.stderr)
        return X
    tqdm.write(f"signlang: {source}: keypoints saved in the order {', '.join(order)}: read in the tutorial's "
               f"({tutorial})", file=sys.stderr)
    return to_tutorial_order(X, order)


def _group(source):
    return source.name.removesuffix(".xz").removesuffix(".npz") if _is_archive(source) else str(source)


def order_actions(found):
    """The tutorial's actions first, in its output order, then any others alphabetically."""
    return [a for a in config.ACTIONS if a in found] + sorted(set(found) - set(config.ACTIONS))


def _is_archive(path):
    return path.name.endswith(ARCHIVE_SUFFIXES)


def _sources(path):
    """The MP_Data trees and archives a command-line path stands for."""
    try:
        exists = path.exists()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        raise SignlangError(f"{path}: not a usable path ({_reason(e)})") from None
    if not exists:
        raise SignlangError(f"{path}: no such file or folder")
    if path.is_file():
        if not _is_archive(path):
            raise SignlangError(f"{path}: not an MP_Data folder or a .npz / .npz.xz archive")
        return [path]
    archives = sorted(p for p in _entries(path) if p.is_file() and _is_archive(p))
    return archives or [path]


def _entries(folder):
    """The folder's entries; a folder that cannot be listed (permissions) is a SignlangError naming it."""
    try:
        return list(folder.iterdir())
    except OSError as e:
        raise SignlangError(f"{folder}: cannot be read ({_reason(e)})") from None


def _reason(error):
    """An exception as a short reason: the OS's words for an OSError, else its type and message."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _is_number_array(array):
    return np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)


def _read_archive(path, length, skip):
    try:
        raw = lzma.open(path).read() if path.name.endswith(".xz") else path.read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            if "X" not in z or "y" not in z:
                return skip(path, f"archive needs arrays X and y, has {sorted(z.files)}")
            X, y = z["X"], z["y"]
    except Exception as e:  # numpy, zipfile, zlib and lzma raise many types for a damaged file
        return skip(path, f"not a readable archive ({_reason(e)})")
    if X.ndim != 3 or X.shape[1:] != (length, FRAME_SIZE) or y.shape != (len(X),):
        return skip(path, f"X has shape {X.shape} and y {y.shape}, expected (n, {length}, {FRAME_SIZE}) and (n,)")
    if not _is_number_array(X):
        return skip(path, f"X must hold numbers, not {X.dtype}")
    if not np.isfinite(X).all():
        return skip(path, "X contains NaN or infinite values")
    return X.astype(np.float32), y.astype(str)


def _read_tree(root, length, skip):
    """MP_Data/<action>/<sequence>/<frame>.npy -> (X, y) of the sequences that are complete and valid."""
    actions = sorted(p for p in _entries(root) if p.is_dir() and not p.name.startswith("."))
    if not actions:
        raise SignlangError(f"{root}: no action folders (expected MP_Data/<action>/<sequence>/<frame>.npy)")
    X, y = [], []
    for action in actions:
        try:
            entries = _entries(action)
        except SignlangError as e:
            skip(action, str(e).removeprefix(f"{action}: "))
            continue
        sequences = sorted((p for p in entries if p.is_dir() and not p.name.startswith(".")),
                           key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
        if not sequences:
            skip(action, "empty action folder (no sequence folders)")
        for sequence in sequences:
            frames = _read_sequence(sequence, length, skip)
            if frames is not None:
                X.append(frames)
                y.append(action.name)
    if not X:
        return None
    return np.stack(X), np.array(y)


def _read_sequence(folder, length, skip):
    try:
        names = [p.name for p in _entries(folder)]
    except SignlangError as e:
        return skip(folder, str(e).removeprefix(f"{folder}: "))
    numbers = {int(m.group(1)) for m in map(FRAME_NAME.match, names) if m}
    missing = sorted(set(range(length)) - numbers)
    if missing:
        return skip(folder, f"missing frames {_ranges(missing)} (has {len(numbers & set(range(length)))} "
                            f"of {length}: 0.npy .. {length - 1}.npy)")
    extra = sorted(numbers - set(range(length)))
    if extra:
        return skip(folder, f"has frames {_ranges(extra)} beyond {length - 1}.npy: a sequence has exactly {length}")
    frames = []
    for i in range(length):
        path = folder / f"{i}.npy"
        try:
            frame = np.load(path, allow_pickle=False)
        except Exception as e:  # numpy raises many types for a damaged file (MemoryError for a lying header)
            return skip(path, f"not a readable .npy file ({_reason(e)})")
        if not isinstance(frame, np.ndarray):  # an .npz archive saved under a .npy name
            frame.close()
            return skip(path, "not a .npy file but an .npz archive")
        if frame.shape != (FRAME_SIZE,):
            return skip(path, f"shape {frame.shape}, expected ({FRAME_SIZE},) keypoints")
        if not _is_number_array(frame) or not np.isfinite(frame).all():
            return skip(path, f"keypoints must be finite numbers (dtype {frame.dtype})")
        frames.append(frame)
    return np.stack(frames).astype(np.float32)


def _ranges(numbers):
    """[3, 4, 5, 9] -> '3-5, 9'."""
    runs, start = [], numbers[0]
    for a, b in zip(numbers, numbers[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}-{a}" if a > start else str(a))
            start = b
    return ", ".join(runs)
