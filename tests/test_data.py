"""signlang.data on real recordings from ../shared: MP_Data trees, archives, and every bad-input message."""

import io
import lzma
import re
import shutil

import numpy as np
import pytest

from conftest import FULL_FACE, YES_NO, more_signs_archive, signer_archive
from signlang import data
from signlang.errors import SignlangError
from signlang.layout import FACE, LEFT_HAND, POSE

# Three different people (FULL_FACE: hello, thanks and iloveyou, 30 each).
TREE_PERSON, ARCHIVE_PERSON, BAD_ARCHIVE_PERSON = FULL_FACE[:3]


def read_archive(path):
    with np.load(io.BytesIO(lzma.open(path).read())) as z:
        return z["X"], z["y"]


@pytest.fixture(scope="module")
def signer():
    return read_archive(signer_archive(TREE_PERSON))


def write_tree(root, X, y, per_action=3, rename=None):
    """A tutorial MP_Data tree (float64 frames, as the notebook's np.save writes) of the first recordings of each
    action; returns {(action, sequence): frames}."""
    written = {}
    for action in np.unique(y):
        name = (rename or {}).get(action, action)
        for seq, frames in enumerate(X[y == action][:per_action]):
            folder = root / name / str(seq)
            folder.mkdir(parents=True)
            for i, frame in enumerate(frames):
                np.save(folder / f"{i}.npy", frame.astype(np.float64))
            written[(name, seq)] = frames
    return written


def test_tree_loads_frames_labels_groups_in_order(tmp_path, signer):
    written = write_tree(tmp_path / "MP_Data", *signer)
    (tmp_path / "MP_Data" / "hello" / ".partial-x1").mkdir()  # an interrupted `collect` leaves these: ignored
    ds = data.load(tmp_path / "MP_Data", progress=False)
    assert ds.X.shape == (9, 30, 1662) and ds.X.dtype == np.float32
    assert ds.actions == ["hello", "thanks", "iloveyou"]
    assert set(ds.groups) == {str(tmp_path / "MP_Data")} and ds.skipped == []
    for frames, label in zip(ds.X, ds.y):
        assert any(np.array_equal(frames, w.astype(np.float32)) for (a, _), w in written.items() if a == label)


def test_any_number_of_actions_and_one_group_per_folder(tmp_path, signer):
    X, y = signer
    write_tree(tmp_path / "alice", X, y, per_action=2)
    write_tree(tmp_path / "bob", X, y, per_action=2, rename={"hello": "goodbye", "thanks": "yes"})
    ds = data.load([tmp_path / "alice", tmp_path / "bob"], progress=False)
    assert ds.actions == ["hello", "thanks", "iloveyou", "goodbye", "yes"]
    assert len(ds.y) == 12 and sorted(np.unique(ds.groups)) == [str(tmp_path / "alice"), str(tmp_path / "bob")]
    assert set(ds.y[ds.groups == str(tmp_path / "bob")]) == {"goodbye", "yes", "iloveyou"}


def test_keypoints_in_another_known_order_are_read_in_the_tutorials(tmp_path, signer, capsys):
    X, y = signer
    write_tree(tmp_path / "ours", X, y, per_action=1)
    hands = X[..., LEFT_HAND.start:]
    write_tree(tmp_path / "face_first", np.concatenate([X[..., FACE], X[..., POSE], hands], axis=-1), y, per_action=1)
    pose_last = np.concatenate([X[..., FACE], hands, X[..., POSE]], axis=-1)
    write_tree(tmp_path / "pose_last", pose_last, y, per_action=1)
    pose_last[..., POSE.stop:FACE.stop] = 0  # as ../shared keeps sparse faces: zeros where "face, pose" would find a pose
    write_tree(tmp_path / "zeroed", pose_last, y, per_action=1)
    write_tree(tmp_path / "unknown", np.concatenate([hands[..., :63], X[..., POSE], X[..., FACE], hands[..., 63:]],
                                                    axis=-1), y, per_action=1)
    ds = data.load([tmp_path / name for name in ("ours", "face_first", "pose_last", "zeroed", "unknown")], progress=False)
    err = capsys.readouterr().err
    ours = ds.X[ds.groups == str(tmp_path / "ours")]
    for name in ("face_first", "pose_last"):
        assert np.array_equal(ds.X[ds.groups == str(tmp_path / name)], ours)
        assert re.search(rf"{re.escape(str(tmp_path / name))}: keypoints saved in the order face, .*: read in the tutorial's", err)
    pose = slice(8, POSE.stop)  # the nose's x, y, z were in the zeroed block
    assert np.array_equal(ds.X[ds.groups == str(tmp_path / "zeroed")][..., pose], ours[..., pose])
    assert not np.array_equal(ds.X[ds.groups == str(tmp_path / "unknown")], ours)
    assert re.search(rf"warning: {re.escape(str(tmp_path / 'unknown'))}: \d+% of frames .* keypoint order", err)
    assert str(tmp_path / "ours") + ":" not in err


def test_archives_npz_xz_and_folders_of_archives(tmp_path):
    X, y = read_archive(signer_archive(ARCHIVE_PERSON))
    np.savez(tmp_path / "plain.npz", X=X[:10], y=y[:10])
    shutil.copy(signer_archive(ARCHIVE_PERSON), tmp_path / "packed.npz.xz")
    one = data.load(tmp_path / "plain.npz", progress=False)
    assert np.array_equal(one.X, X[:10].astype(np.float32)) and list(one.y) == list(y[:10])
    folder = data.load(tmp_path, progress=False)
    assert len(folder.y) == 10 + len(y)
    assert sorted(np.unique(folder.groups)) == ["packed", "plain"]  # an archive is named after its person


def test_a_persons_archives_of_one_name_are_one_group():
    """../shared keeps a person's other signs in more_signs/ under the same file name: one group (person)."""
    ds = data.load([signer_archive(YES_NO), more_signs_archive(YES_NO), signer_archive(ARCHIVE_PERSON)],
                   progress=False)
    assert ds.actions == ["hello", "thanks", "iloveyou", "no", "yes"]
    assert sorted(np.unique(ds.groups)) == sorted([YES_NO, ARCHIVE_PERSON])
    assert set(ds.y[ds.groups == YES_NO]) == {"hello", "thanks", "iloveyou", "yes", "no"}
    assert list(ds.y[ds.groups == ARCHIVE_PERSON]).count("hello") == 30


def bad(root, message, skip_count=1):
    """The loader stops with a message naming the path and the problem, and skip_bad leaves just that input out."""
    with pytest.raises(SignlangError, match=message):
        data.load(root, progress=False)
    ds = data.load(root, skip_bad=True, progress=False)
    assert len(ds.skipped) == skip_count and re.search(message, ds.skipped[0])
    return ds


@pytest.fixture
def tree(tmp_path, signer):
    write_tree(tmp_path / "MP_Data", *signer, per_action=2)
    return tmp_path / "MP_Data"


def test_corrupt_npy(tree):
    (tree / "thanks" / "1" / "7.npy").write_bytes(b"not numpy at all")
    ds = bad(tree, re.escape(str(tree / "thanks" / "1" / "7.npy")) + ": not a readable .npy file")
    assert len(ds.y) == 5 and list(ds.y).count("thanks") == 1


def test_wrong_shaped_npy(tree):
    np.save(tree / "hello" / "0" / "3.npy", np.zeros(1600))
    bad(tree, re.escape(str(tree / "hello" / "0" / "3.npy")) + r": shape \(1600,\), expected \(1662,\)")


def test_non_finite_keypoints(tree):
    np.save(tree / "hello" / "1" / "0.npy", np.full(1662, np.nan))
    bad(tree, re.escape(str(tree / "hello" / "1" / "0.npy")) + ": keypoints must be finite")


def test_missing_frames(tree):
    for i in (5, 6, 7, 29):
        (tree / "iloveyou" / "0" / f"{i}.npy").unlink()
    bad(tree, re.escape(str(tree / "iloveyou" / "0")) + r": missing frames 5-7, 29 \(has 26 of 30")


def test_extra_frames(tree):
    np.save(tree / "iloveyou" / "1" / "30.npy", np.zeros(1662))
    bad(tree, re.escape(str(tree / "iloveyou" / "1")) + r": has frames 30 beyond 29.npy")


def test_empty_action_folder(tree):
    (tree / "goodbye").mkdir()
    ds = bad(tree, re.escape(str(tree / "goodbye")) + ": empty action folder")
    assert ds.actions == ["hello", "thanks", "iloveyou"] and len(ds.y) == 6


def test_bad_archives(tmp_path):
    X, y = read_archive(signer_archive(BAD_ARCHIVE_PERSON))
    np.savez(tmp_path / "a_good.npz", X=X[:4], y=y[:4])
    np.savez(tmp_path / "b_shape.npz", X=X[:4, :20], y=y[:4])
    bad(tmp_path, re.escape(str(tmp_path / "b_shape.npz")) + r": X has shape \(4, 20, 1662\)")
    (tmp_path / "b_shape.npz").unlink()
    np.savez(tmp_path / "c_keys.npz", frames=X[:4])
    bad(tmp_path, re.escape(str(tmp_path / "c_keys.npz")) + r": archive needs arrays X and y")
    (tmp_path / "c_keys.npz").unlink()
    (tmp_path / "d_broken.npz.xz").write_bytes(lzma.compress(b"truncated")[:-8])
    bad(tmp_path, re.escape(str(tmp_path / "d_broken.npz.xz")) + ": not a readable archive")


def test_paths_that_are_not_data(tmp_path):
    with pytest.raises(SignlangError, match=re.escape(str(tmp_path / "nope")) + ": no such file or folder"):
        data.load(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SignlangError, match=re.escape(str(tmp_path / "notes.txt")) + ": not an MP_Data folder"):
        data.load(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SignlangError, match=re.escape(str(tmp_path / "empty")) + ": no action folders"):
        data.load(tmp_path / "empty")
    with pytest.raises(SignlangError, match="no data paths given"):
        data.load([])


def test_nothing_usable_left_after_skipping(tree):
    for sequence in tree.glob("*/*"):
        (sequence / "0.npy").unlink()
    with pytest.raises(SignlangError, match=re.escape(str(tree)) + r": no usable sequences \(6 skipped\)"):
        data.load(tree, skip_bad=True, progress=False)
