"""`signlang extract` over collections: folder and CSV inputs, resume after SIGKILL, --force, failing clips,
two runs writing at once, and the same job on a local Ray."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import run_cli, write_video
from signlang import data
from signlang.manifest import MANIFEST, SOURCE

CLIP_FRAMES = 12  # source frames per cut clip: 0.2 s of a 60 fps clip, 5 frames at 25 frames/s, one sequence


def cut(source, target, start, frames=CLIP_FRAMES):
    """Writes frames [start, start + frames) of `source` as a short mp4 clip."""
    cap = cv2.VideoCapture(str(source))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    fps = cap.get(cv2.CAP_PROP_FPS)
    images = [image for ok, image in (cap.read() for _ in range(frames)) if ok]
    cap.release()
    write_video(target, images, fps)


@pytest.fixture
def collection(tmp_path, clips):
    """A folder <root>/<action>/<clip> of short clips cut from the shared signing clips: {path: action}."""
    root, made = tmp_path / "clips", {}
    for action, n in (("hello", 2), ("thanks", 3)):
        for i in range(n):
            path = root / action / f"{i}.mp4"
            cut(clips[action], path, start=i * CLIP_FRAMES)
            made[path] = action
    return made


def sequences(data_path):
    """{action/number: source dict} of every sequence folder, each checked complete (30 frames + its source)."""
    found = {}
    for folder in sorted(Path(data_path).glob("*/*")):
        if folder.is_dir() and folder.name.isdigit():
            assert sorted(p.name for p in folder.iterdir()) == sorted([f"{i}.npy" for i in range(30)] + [SOURCE])
            found[f"{folder.parent.name}/{folder.name}"] = json.loads((folder / SOURCE).read_text())
    return found


def manifests(data_path):
    return {p.parent.name: json.loads(p.read_text()) for p in Path(data_path).glob(f"*/{MANIFEST}")}


def check_consistent(data_path, clips):
    """Every clip has exactly one sequence (short clips), every manifest entry names sequences on disk."""
    found = sequences(data_path)
    by_clip = {}
    for name, source in found.items():
        by_clip.setdefault((name.split("/")[0], source["sha256"]), []).append(name)
    assert sorted((action, len(names)) for (action, _), names in by_clip.items()) == sorted(
        (action, 1) for action in clips.values())
    listed = [f"{action}/{s['folder']}" for action, m in manifests(data_path).items()
              for entry in m["clips"].values() for s in entry["sequences"]]
    assert sorted(listed) == sorted(found)
    return found


def test_folder_collection_resumes_and_force_replaces(tmp_path, collection):
    data_path = tmp_path / "MP_Data"
    result = run_cli("extract", tmp_path / "clips", "--data", data_path)
    assert "wrote 5 sequences of 5 clips" in result.stdout
    first = check_consistent(data_path, collection)
    assert {s["path"] for s in first.values()} == {str(p) for p in collection}
    assert all(s["fps"] == 25 and (s["start"], s["end"]) == (0, 5) for s in first.values())
    frames = {name: np.load(data_path / name / "0.npy") for name in first}

    again = run_cli("extract", tmp_path / "clips", "--data", data_path)
    assert "wrote 0 sequences of 0 clips" in again.stdout and "5 clips were done before" in again.stdout
    assert sequences(data_path) == first

    # a crash between a sequence's rename and its manifest entry
    (data_path / "hello" / MANIFEST).unlink()
    run_cli("extract", tmp_path / "clips", "--data", data_path)
    assert sequences(data_path) == first and len(manifests(data_path)["hello"]["clips"]) == 2

    forced = run_cli("extract", tmp_path / "clips", "--data", data_path, "--force")
    assert "wrote 5 sequences of 5 clips" in forced.stdout
    replaced = check_consistent(data_path, collection)
    assert not set(replaced) & set(first)  # new numbers, the old sequences gone
    assert not [p for p in data_path.rglob(".*") if p.is_dir()]  # no hidden left-overs
    for name, source in replaced.items():
        old = next(n for n, s in first.items() if s["sha256"] == source["sha256"] and n[:5] == name[:5])
        np.testing.assert_allclose(np.load(data_path / name / "0.npy"), frames[old], atol=1e-4)

    dataset = data.load(data_path, progress=False)  # manifests and sources beside the frames are ignored
    assert sorted(dataset.y) == ["hello"] * 2 + ["thanks"] * 3


def test_csv_collection_lists_failing_clips_and_keeps_the_others(tmp_path, clips):
    cut(clips["hello"], tmp_path / "hello.mp4", 0)
    (tmp_path / "garbage.mp4").write_bytes(b"\x00" * 1000)
    write_video(tmp_path / "empty room.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 10, 25.0)
    (tmp_path / "clips.csv").write_text("file,action\nhello.mp4,hello\ngarbage.mp4,hello\nempty room.mp4,thanks\n")
    data_path = tmp_path / "MP_Data"
    result = run_cli("extract", tmp_path / "clips.csv", "--data", data_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "garbage.mp4: cannot be decoded as a video" in result.stderr
    assert "empty room.mp4: no person found in any frame" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "signlang: error: 2 of 3 clips gave no sequences (listed above); --force tries them again")
    assert list(sequences(data_path)) == ["hello/0"]
    failed = {e["path"] for m in manifests(data_path).values() for e in m["failed"].values()}
    assert failed == {str(tmp_path / "garbage.mp4"), str(tmp_path / "empty room.mp4")}

    again = run_cli("extract", tmp_path / "clips.csv", "--data", data_path, check=False)
    assert again.returncode == 2 and "wrote 0 sequences of 0 clips" in again.stdout  # not tried again
    assert "empty room.mp4: no person found" in again.stderr and list(sequences(data_path)) == ["hello/0"]


def test_a_clip_left_half_written_is_completed(tmp_path, clips):
    """A kill between the two sequences of a clip: the next run writes the missing one only."""
    data_path = tmp_path / "MP_Data"
    run_cli("extract", clips["thanks"], "--action", "thanks", "--data", data_path)
    first = sequences(data_path)
    assert sorted((s["part"], s["start"], s["end"]) for s in first.values()) == [(0, 0, 30), (1, 26, 56)]
    second = next(name for name, s in first.items() if s["part"] == 1)
    for file in (data_path / second).iterdir():
        file.unlink()
    (data_path / second).rmdir()
    (data_path / "thanks" / MANIFEST).unlink()
    result = run_cli("extract", clips["thanks"], "--action", "thanks", "--data", data_path)
    assert "wrote 1 sequences of 1 clips" in result.stdout
    final = sequences(data_path)
    kept = next(name for name in first if name != second)
    assert final[kept] == first[kept] and sorted(s["part"] for s in final.values()) == [0, 1]
    assert len({s["run"] for s in final.values()}) == 1  # one set, completed under the killed run's id
    (entry,) = manifests(data_path)["thanks"]["clips"].values()
    assert sorted(f"thanks/{s['folder']}" for s in entry["sequences"]) == sorted(final)


@pytest.mark.parametrize("rows,message", [
    ("a.mp4,hello thanks\n", "clips.csv:1: 'hello thanks' is 2 actions: a clip is filed under one"),
    ("a.mp4,\n", "clips.csv:1: no action in the second cell"),
    ("a.mp4,../up\n", "not usable as an action name"),
    ("b.mp4,hello\n", "clips.csv:1: b.mp4: no such file"),
])
def test_bad_csv_rows_stop_before_any_clip(tmp_path, rows, message):
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "clips.csv").write_text(rows)
    result = run_cli("extract", tmp_path / "clips.csv", "--data", tmp_path / "MP_Data", check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "MP_Data").exists()


def start(*args):
    command = [str(Path(sys.executable).with_name("signlang")), "extract", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_resume_after_sigkill_midway(tmp_path, collection):
    data_path = tmp_path / "MP_Data"
    process = start(tmp_path / "clips", "--data", data_path)
    deadline = time.monotonic() + 300
    while not any(data_path.glob("*/[0-9]*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "extract ended before it could be killed"
    process.send_signal(signal.SIGKILL)  # one clip written, the others in flight
    process.communicate()
    killed = sequences(data_path)  # only complete sequences, each with its source
    assert 1 <= len(killed) < len(collection)
    listed = {f"{a}/{s['folder']}" for a, m in manifests(data_path).items() for e in m["clips"].values()
              for s in e["sequences"]}
    assert listed <= set(killed)  # no manifest entry without its sequence

    result = run_cli("extract", tmp_path / "clips", "--data", data_path)
    assert f"wrote {len(collection) - len(killed)} sequences" in result.stdout
    final = check_consistent(data_path, collection)
    assert {k: v for k, v in final.items() if k in killed} == killed


def test_two_runs_writing_at_once_lose_nothing(tmp_path, collection):
    """Two extract processes into the same MP_Data and actions: the thanks clips are in both jobs."""
    clips_a = tmp_path / "a.csv"
    clips_a.write_text("".join(f"{p},{action}\n" for p, action in collection.items()))
    extra = {}
    for i in range(3):
        path = tmp_path / "clips" / "more" / f"{i}.mp4"
        cut(tmp_path / "clips" / "thanks" / "0.mp4", path, 0, frames=CLIP_FRAMES - 2 - i)
        extra[path] = "hello"
    clips_b = tmp_path / "b.csv"
    clips_b.write_text("".join(f"{p},{action}\n" for p, action in {**extra, **{
        p: a for p, a in collection.items() if a == "thanks"}}.items()))
    data_path = tmp_path / "MP_Data"
    runs = [start(clips, "--data", data_path) for clips in (clips_a, clips_b)]
    for run in runs:
        _, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr[-2000:]
    check_consistent(data_path, {**collection, **extra})


def test_the_same_job_on_local_ray(tmp_path, collection):
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'signlang[ray]' (make test installs it)")
    run_cli("extract", tmp_path / "clips", "--data", tmp_path / "local")
    result = run_cli("extract", tmp_path / "clips", "--data", tmp_path / "ray", "--ray", "--workers", "2")
    assert "wrote 5 sequences of 5 clips" in result.stdout
    local, ray = check_consistent(tmp_path / "local", collection), check_consistent(tmp_path / "ray", collection)
    by_clip = {(n[:5], s["sha256"]): n for n, s in local.items()}
    assert sorted(by_clip) == sorted((n[:5], s["sha256"]) for n, s in ray.items())
    for name, source in ray.items():
        np.testing.assert_allclose(np.load(tmp_path / "ray" / name / "0.npy"),
                                   np.load(tmp_path / "local" / by_clip[name[:5], source["sha256"]] / "0.npy"),
                                   atol=1e-4)


def test_ray_is_not_imported_without_ray(tmp_path, clips):
    cut(clips["hello"], tmp_path / "hello.mp4", 0)
    code = ("import sys; from signlang.cli import main; "
            f"assert main(['extract', {str(tmp_path / 'hello.mp4')!r}, '--action', 'hello', '--data', "
            f"{str(tmp_path / 'MP_Data')!r}, '--workers', '2']) == 0; assert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, env={**os.environ})
