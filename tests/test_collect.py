"""Video and guided collection -> the tutorial's MP_Data tree, written atomically, never overwritten."""

import json

import cv2
import numpy as np
import pytest

from conftest import read_video, run_cli, write_video
from signlang import SignlangError
from signlang.collect import check_action, split_sequences, write_sequence
from signlang.sources import open_source


def tree(root):
    """{relative path: bytes} of every file below root."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def frames(n):
    return np.arange(n * 1662, dtype=np.float32).reshape(n, 1662)


@pytest.mark.parametrize("n,starts", [(30, [0]), (40, [0]), (45, [0, 15]), (75, [0, 30, 45]), (60, [0, 30])])
def test_long_clips_give_consecutive_sequences_and_a_final_one_for_a_long_tail(n, starts):
    clip = frames(n)
    sequences = split_sequences(clip, 30)
    assert [s[0, 0] for s in sequences] == [clip[i, 0] for i in starts]
    assert all(s.shape == (30, 1662) for s in sequences)


def test_short_clip_is_padded_with_its_last_frame():
    clip = frames(12)
    (sequence,) = split_sequences(clip, 30)
    np.testing.assert_array_equal(sequence[:12], clip)
    assert (sequence[12:] == clip[-1]).all()


def test_write_sequence_numbers_after_existing_and_never_overwrites(tmp_path):
    action = tmp_path / "hello"
    for number in (0, 5):
        write_sequence(action, frames(3)) if number == 0 else (action / "5").mkdir()
    before = tree(tmp_path)
    target = write_sequence(action, frames(30))
    assert target == action / "6"
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{i}.npy" for i in range(30))
    np.testing.assert_array_equal(np.load(target / "29.npy"), frames(30)[29])
    assert {k: v for k, v in tree(tmp_path).items() if k in before} == before
    assert not [p for p in action.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_extract_writes_the_tutorial_tree_and_skips_a_clip_done_before(tmp_path, clips):
    data = tmp_path / "MP_Data"
    run_cli("extract", clips["hello"], "--action", "hello", "--data", data)
    first = tree(data)
    assert sorted(k for k in first if k.endswith(".npy")) == sorted(f"hello/0/{i}.npy" for i in range(30))
    assert json.loads(first["hello/0/source.json"])["path"] == str(clips["hello"])
    sequence = np.stack([np.load(data / f"hello/0/{i}.npy") for i in range(30)])
    assert sequence.shape == (30, 1662) and sequence[:, 1536:].any()  # a hand was found

    again = run_cli("extract", clips["hello"], "--action", "hello", "--data", data)
    assert "1 clips were done before" in again.stdout and tree(data) == first


def test_extract_with_two_workers_matches_one(tmp_path, clips):
    videos = [clips["hello"], clips["iloveyou"]]
    run_cli("extract", *videos, "--action", "a", "--data", tmp_path / "one")
    result = run_cli("extract", *videos, "--action", "a", "--data", tmp_path / "two", "--workers", "2")
    one, two = by_source(tmp_path / "one"), by_source(tmp_path / "two")  # clips finish in any order
    assert sorted(one) == sorted(two) and len(one) >= 2
    for part in one:
        np.testing.assert_allclose(one[part], two[part], atol=1e-4)
    assert "wrote" in result.stdout


def by_source(data):
    """{(clip hash, part): (30, 1662) frames} of the sequences extract wrote."""
    found = {}
    for source in data.glob("*/*/source.json"):
        about = json.loads(source.read_text())
        found[about["sha256"], about["part"]] = np.stack([np.load(source.parent / f"{i}.npy") for i in range(30)])
    return found


def test_collect_from_a_video_resumes_and_drops_the_unfinished_sequence(tmp_path, clips):
    data = tmp_path / "MP_Data"
    args = ["collect", "--actions", "a", "b", "--sequences", "2", "--length", "10", "--data", data,
            "--source", clips["hello"], "--no-window"]
    run_cli(*args)  # the hello clip gives 33 frames at 25 frames/s: a/0, a/1, b/0, then 3 frames unused
    first = tree(data)
    assert sorted({k.rsplit("/", 1)[0] for k in first}) == ["a/0", "a/1", "b/0"]
    assert all(len([k for k in first if k.startswith(f"{s}/")]) == 10 for s in ["a/0", "a/1", "b/0"])
    run_cli(*args)
    again = tree(data)
    assert sorted({k.rsplit("/", 1)[0] for k in again}) == ["a/0", "a/1", "a/2", "a/3", "b/0", "b/1"]
    assert {k: v for k, v in again.items() if k in first} == first


def test_collect_from_a_slow_video_fills_it_up_to_25_frames_a_second(tmp_path, clips):
    """The hello clip at 10 frames/s has 13 frames; on the 25 frames/s timeline they make one 30-frame sequence
    whose second frame blends the first two frames' keypoints."""
    images, rate = read_video(clips["hello"])
    write_video(tmp_path / "slow.mp4", images[::round(rate / 10)], 10)
    run_cli("collect", "--actions", "hello", "--sequences", "1", "--data", tmp_path / "MP_Data",
            "--source", tmp_path / "slow.mp4", "--no-window")
    sequence = np.stack([np.load(tmp_path / "MP_Data" / "hello" / "0" / f"{i}.npy") for i in range(30)])
    first, middle, second = sequence[0, :132], sequence[1, :132], sequence[2, :132]  # t = 0, 0.04 (blend), 0.1
    assert first.any() and second.any()
    np.testing.assert_allclose(middle, 0.5 * first + 0.5 * second, atol=1e-6)


def test_collect_from_an_image_folder(tmp_path, clips):
    images = tmp_path / "images"
    images.mkdir()
    for i, frame in enumerate(open_source(clips["thanks"])):
        cv2.imwrite(str(images / f"{i:04d}.jpg"), frame.image)
    run_cli("collect", "--actions", "thanks", "--sequences", "1", "--data", tmp_path / "MP_Data", "--source", images, "--no-window")
    assert len(list((tmp_path / "MP_Data" / "thanks" / "0").glob("*.npy"))) == 30


@pytest.mark.parametrize("args,message", [
    (["extract", "{tmp}/missing.mp4", "--action", "hello"], "missing.mp4: no such file or folder"),
    (["extract", "{tmp}/garbage.mp4", "--action", "hello"], "garbage.mp4: cannot be decoded as a video"),
    (["extract", "{tmp}/garbage.mp4", "--action", "../up"], "not usable as an action name"),
    (["extract", "{tmp}/empty", "--action", "hello"], "empty: folder has no images"),
    (["collect", "--source", "97", "--no-window"], "camera 97: could not be opened"),
    (["collect", "--source", "{tmp}/missing.mp4", "--no-window"], "missing.mp4: no such file or folder"),
])
def test_bad_input_is_one_line_and_non_zero(tmp_path, args, message):
    (tmp_path / "garbage.mp4").write_bytes(b"\x00" * 1000)
    (tmp_path / "empty").mkdir()
    result = run_cli(*[a.format(tmp=tmp_path) for a in args], "--data", tmp_path / "MP_Data", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("signlang: error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "MP_Data").exists() or not any((tmp_path / "MP_Data").rglob("*.npy"))


def test_workers_must_be_positive(tmp_path):
    result = run_cli("extract", "x.mp4", "--action", "a", "--workers", "0", check=False)
    assert result.returncode == 2 and "must be at least 1" in result.stderr


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..\\up"])
def test_action_names_are_checked(name):
    with pytest.raises(SignlangError, match="not usable as an action name"):
        check_action(name)
