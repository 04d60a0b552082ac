"""`signlang evaluate --videos` end to end: a user's labelled clips (a CSV or a folder) through real MediaPipe
and the shipped action.h5, the JSON checked against itself; bad rows rejected before any clip runs."""

import json
import math

import cv2
import numpy as np
import pytest

from conftest import ROOT, VIDEOS, need, run_cli
from signlang import config
from signlang.collect import video_keypoints
from signlang.errors import SignlangError
from signlang.evaluate import edit_distance, format_videos_text, read_labels
from signlang.sources import VIDEO_EXTENSIONS

SHIPPED = ROOT / config.MODEL_PATH
HELLO, THANKS, IDLE = "merins7__SignFLIP1__hello.mp4", "merins7__SignFLIP1__thankyou.mp4", "KwaiVGI__LivePortrait__s18.mp4"


def shared_clip(name):
    return need(VIDEOS / name)


def evaluate_json(labels):
    result = run_cli("evaluate", "--videos", labels, "--model", SHIPPED, "--json")
    return json.loads(result.stdout)  # fails on anything but exactly one JSON document


def check_metrics(result):
    """The overall figures follow from the per-clip entries."""
    clips = result["per_clip"]
    assert result["clips"] == len(clips) and result["failed"] == 0
    for c in clips:
        assert c["exact"] == (c["detected"] == c["expected"])
        assert c["errors"] == edit_distance(c["expected"], c["detected"])
    assert result["exact"] == pytest.approx(np.mean([c["exact"] for c in clips]))
    words = sum(len(c["expected"]) for c in clips)
    assert result["word_error_rate"] == pytest.approx(sum(c["errors"] for c in clips) / words)
    idle = [c for c in clips if not c["expected"]]
    minutes = sum(c["seconds"] for c in idle) / 60
    assert result["false_signs_per_minute"] == pytest.approx(sum(len(c["detected"]) for c in idle) / minutes)


def test_edit_distance_counts_word_insertions_deletions_and_substitutions():
    assert edit_distance([], []) == 0
    assert edit_distance(["hello"], []) == edit_distance([], ["hello"]) == 1
    assert edit_distance(["hello", "thanks"], ["hello", "iloveyou", "thanks"]) == 1
    assert edit_distance(["hello", "thanks"], ["thanks", "hello"]) == 2
    assert edit_distance(["a", "b", "c"], ["x", "b", "y", "c"]) == 2


def test_read_labels_csv_header_blank_lines_relative_paths(tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / "clips" / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text("File,signs\n\nclips/a.mp4, hello  thanks\nclips/b.mp4,\nclips/c.mp4\n")
    assert read_labels(tmp_path / "labels.csv") == [(tmp_path / "clips" / "a.mp4", ["hello", "thanks"]),
                                                    (tmp_path / "clips" / "b.mp4", []),
                                                    (tmp_path / "clips" / "c.mp4", [])]
    with pytest.raises(SignlangError, match=r"labels.csv:3: unknown sign 'thanks' \(the model knows hello\)"):
        read_labels(tmp_path / "labels.csv", actions=["hello"])


def test_csv_of_clips_gives_sentences_and_consistent_metrics(tmp_path):
    (tmp_path / "clips").mkdir()
    for name in (HELLO, THANKS, IDLE):
        (tmp_path / "clips" / name).symlink_to(shared_clip(name))
    (tmp_path / "labels.csv").write_text(f"file,signs\nclips/{HELLO},hello\n\nclips/{THANKS},thanks\nclips/{IDLE},\n")
    result = evaluate_json(tmp_path / "labels.csv")
    clips = result["per_clip"]
    assert [(c["file"], c["expected"]) for c in clips] == [
        (f"clips/{HELLO}", ["hello"]), (f"clips/{THANKS}", ["thanks"]), (f"clips/{IDLE}", [])]
    assert clips[0]["detected"] == ["hello"] and clips[0]["exact"] and clips[0]["errors"] == 0
    durations = {c["file"]: c["duration_s"] for c in json.loads((VIDEOS / "manifest.json").read_text())["clips"]}
    for c in clips:  # seconds = frames sampled at 25/s
        assert c["seconds"] == pytest.approx(durations[c["file"].split("/")[1]], abs=2 / config.FPS)
    check_metrics(result)
    text = format_videos_text(result).splitlines()
    assert text[0].split() == ["clip", "expected", "detected"]
    assert text[1].split() == [f"clips/{HELLO}", "hello", "hello", "ok"]
    assert text[3].split()[:2] == [f"clips/{IDLE}", "(none)"]
    assert f"of 3 clips ({result['exact']:.1%})" in text[5] and text[6].startswith("word error rate")


def test_a_clip_slower_than_the_training_rate_is_filled_up_and_counts_its_real_length(tmp_path):
    """At 10 frames/s the hello clip has 13 frames, too few for a window: the frames in between are blended
    (25 a second, as in training), and the clip's seconds are its length."""
    source = cv2.VideoCapture(str(shared_clip(HELLO)))
    rate, size = source.get(cv2.CAP_PROP_FPS), (int(source.get(3)), int(source.get(4)))
    slow = cv2.VideoWriter(str(tmp_path / "slow.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    index, kept = 0, 0
    while (frame := source.read()[1]) is not None:
        if index / rate * 10 >= kept:
            slow.write(frame)
            kept += 1
        index += 1
    slow.release()
    (tmp_path / "labels.csv").write_text("slow.mp4,hello\n")
    clip = evaluate_json(tmp_path / "labels.csv")["per_clip"][0]
    assert kept < config.SEQUENCE_LENGTH // 2 and clip["detected"] == ["hello"]
    assert clip["seconds"] == pytest.approx(index / rate, abs=0.1)
    # extract and add-sign read it on the same timeline: 25 frames a second, the skipped ones blended
    assert len(video_keypoints(tmp_path / "slow.mp4")) == math.floor((kept - 1) / 10 * config.FPS + 1e-6) + 1


def test_folder_of_sign_folders(tmp_path):
    root = tmp_path / "clips"
    for sign, name in (("hello", HELLO), ("thanks", THANKS)):
        (root / sign).mkdir(parents=True)
        (root / sign / name).symlink_to(shared_clip(name))
    (root / "hello" / "notes.txt").write_text("not a clip")
    wall = root / config.NO_SIGN / "wall"  # a clip as an image folder: a bare wall, nobody in view
    wall.mkdir(parents=True)
    for i in range(20):
        cv2.imwrite(str(wall / f"{i:02d}.png"), np.full((120, 160, 3), 180, np.uint8))
    result = evaluate_json(root)
    assert [(c["file"], c["expected"]) for c in result["per_clip"]] == [
        (f"hello/{HELLO}", ["hello"]), (f"{config.NO_SIGN}/wall", []), (f"thanks/{THANKS}", ["thanks"])]
    assert result["per_clip"][0]["exact"]
    assert result["per_clip"][1]["detected"] == [] and result["per_clip"][1]["seconds"] == 20 / config.FPS
    check_metrics(result)


BAD = {
    "missing file": ("a.mp4,hello\nb.mp4,thanks\nmissing.mp4,hello\n", "labels.csv:3: missing.mp4: no such file"),
    "unknown sign": ("file,signs\na.mp4,hello\nb.mp4,\na.mp4,hello helo\n",
                     "labels.csv:4: unknown sign 'helo' (the model knows hello, thanks, iloveyou)"),
    "no-sign name": ("a.mp4,hello\nb.mp4,idle\n", "labels.csv:2: 'idle' is not a sign"),
    "three cells": ("a.mp4,hello\nb.mp4,hello,thanks\n", "labels.csv:2: 3 cells"),
    "empty file": ("", "labels.csv: no clips"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_row_is_one_error_line_before_any_clip_runs(tmp_path, case):
    rows, message = BAD[case]
    for name in ("a.mp4", "b.mp4"):  # only existence is checked up front: empty files are fine here
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text(rows)
    result = run_cli("evaluate", "--videos", tmp_path / "labels.csv", "--model", SHIPPED, check=False)
    assert result.returncode == 2 and result.stdout == ""
    # One line: no progress bar was drawn, so no clip was started.
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"signlang: error: {tmp_path / message}"), result.stderr


def test_folder_without_clips_and_data_with_videos_are_errors(tmp_path):
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "notes.txt").write_text("not a clip")
    result = run_cli("evaluate", "--videos", tmp_path, "--model", SHIPPED, check=False)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"signlang: error: {tmp_path}: no clips in <sign>/ or {config.NO_SIGN}/ sub-folders (videos "
        + ", ".join(VIDEO_EXTENSIONS) + " or image folders)"]
    result = run_cli("evaluate", "--videos", tmp_path, "--data", tmp_path, check=False)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
