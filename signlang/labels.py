"""Labelled clips: a CSV `file,<label>` or a folder `<root>/<label>/<clip>` -> (clip path, labels) pairs.

`signlang evaluate --videos` reads the signs each clip shows, `signlang extract` the action each clip is
filed under; both name the bad row or folder in one line before any clip runs.
"""

import csv
import os
from pathlib import Path

from signlang import config
from signlang.errors import SignlangError
from signlang.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


class Label(tuple):
    """(clip path, expected signs), plus `name`, the clip as the user wrote it, and `where`, the row or
    folder it came from, for error messages."""

    def __new__(cls, clip, signs, name=None, where=None):
        label = super().__new__(cls, (Path(clip), list(signs)))
        label.name = os.fspath(clip) if name is None else name
        label.where = label.name if where is None else where
        return label


def read_labels(path, actions=None, column="signs"):
    """The labelled clips of a CSV file or a folder, as a list of (clip path, expected signs list).

    CSV: rows `file,signs` (an optional header row whose first cell is `file`; paths relative to the CSV's
    folder; signs space-separated in order; an empty or missing cell = no sign; blank lines ignored).
    Folder: `<root>/<sign>/<clip>` shows that one sign, `<root>/idle/<clip>` (config.NO_SIGN) none; a clip
    is a video file or a folder of images. Every row is checked (the file exists, and with `actions`
    every sign is one of them) before anything is returned; a bad one is a SignlangError naming it.
    `column` names the second column in messages.
    """
    path = Path(path)
    if path.is_dir():
        labels = _folder_labels(path, column)
    elif path.is_file():
        labels = _csv_labels(path, column)
    else:
        raise SignlangError(f"{path}: no such file or folder")
    if actions is not None:
        check_signs(labels, actions)
    return labels


def _csv_labels(path, column):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader, rows, line = csv.reader(f), [], 1
            for row in reader:  # numbered by the line a row starts on (a quoted cell may span lines)
                rows.append((line, [cell.strip() for cell in row]))
                line = reader.line_num + 1
    except (UnicodeDecodeError, csv.Error) as e:
        raise SignlangError(f"{path}: not a CSV file of rows file,{column} ({e})") from None
    except OSError as e:
        raise SignlangError(f"{path}: cannot be read ({e.strerror or e})") from None
    rows = [(n, row) for n, row in rows if any(row)]  # blank lines
    if rows and rows[0][1][0].lower() == "file":
        rows = rows[1:]
    if not rows:
        raise SignlangError(f"{path}: no clips in the file (expected rows file,{column})")
    labels = []
    for n, row in rows:
        where = f"{path}:{n}"
        if len(row) > 2:
            raise SignlangError(f"{where}: {len(row)} cells, expected file,{column}"
                                + (" (signs separated by spaces)" if column == "signs" else ""))
        if not row[0]:
            raise SignlangError(f"{where}: no file name in the first cell")
        if any(c in row[0] for c in "\r\n\0"):
            raise SignlangError(f"{where}: the file name {row[0]!r} holds a line break or NUL character")
        clip = path.parent / row[0]
        try:
            exists = clip.exists()
        except OSError as e:  # a name too long for the file system
            raise SignlangError(f"{where}: {row[0]}: not a usable file name ({e.strerror or e})") from None
        if not exists:
            raise SignlangError(f"{where}: {row[0]}: no such file")
        labels.append(Label(clip, row[1].split() if len(row) > 1 else [], row[0], where))
    return labels


def _folder_labels(root, column):
    try:
        return _folder_labels_of(root, column.removesuffix("s"))
    except OSError as e:  # a folder that cannot be listed (permissions)
        raise SignlangError(f"{e.filename or root}: cannot be read ({e.strerror or e})") from None


def _folder_labels_of(root, name):
    labels = []
    for folder in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if not folder.is_dir():
            if folder.suffix.lower() in VIDEO_EXTENSIONS:
                raise SignlangError(f"{folder}: a clip must be in a folder named after its {name}, "
                                    f"{root}/<{name}>/<clip> (or {root}/{config.NO_SIGN}/<clip> for no sign)")
            continue
        signs = [] if folder.name == config.NO_SIGN else [folder.name]
        for clip in sorted(folder.iterdir()):
            if clip.name.startswith("."):
                continue
            if (clip.suffix.lower() in VIDEO_EXTENSIONS and clip.is_file()) or (
                    clip.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in clip.iterdir())):
                labels.append(Label(clip, signs, os.fspath(clip.relative_to(root)), str(folder)))
    if not labels:
        raise SignlangError(f"{root}: no clips in <{name}>/ or {config.NO_SIGN}/ sub-folders "
                            f"(videos {', '.join(VIDEO_EXTENSIONS)} or image folders)")
    return labels


def check_signs(labels, actions, no_sign=None):
    """Raises a SignlangError naming the first label with a sign not in `actions` (never config.NO_SIGN
    nor the model's "no sign" output `no_sign`: a clip without signs has none)."""
    not_signs = {config.NO_SIGN, no_sign}
    known = [a for a in actions if a not in not_signs]
    for label in labels:
        where = getattr(label, "where", os.fspath(label[0]))
        for sign in label[1]:
            if sign in not_signs:
                raise SignlangError(f"{where}: {sign!r} is not a sign: leave the signs empty for a clip without signs")
            if sign not in known:
                raise SignlangError(f"{where}: unknown sign {sign!r} (the model knows {', '.join(known)})")


def read_actions(path):
    """`signlang extract`'s collection: [(clip path, action)] of a CSV `file,action` or a folder
    `<root>/<action>/<clip>` (`<root>/idle/<clip>` files clips under config.NO_SIGN, as the folder says)."""
    path = Path(path)
    clips = []
    for label in read_labels(path, column="action"):
        clip, words = label
        if len(words) > 1:
            raise SignlangError(f"{label.where}: {' '.join(words)!r} is {len(words)} actions: a clip is filed under one")
        if not words and not path.is_dir():
            raise SignlangError(f"{label.where}: no action in the second cell (expected file,action)")
        clips.append((clip, words[0] if words else config.NO_SIGN))
    return clips
