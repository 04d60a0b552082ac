"""Frame sources: video files of every supported container, image folders, and clear errors."""


import cv2
import numpy as np
import pytest
from PIL import Image

from signlang import SignlangError
from signlang.sources import open_source


def read_all(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            return frames
        frames.append(image)


@pytest.fixture(scope="module")
def frames(clips):
    return read_all(clips["hello"])[:15]


def test_video_is_sampled_at_the_target_rate(clips, clip_manifest):
    for clip in clip_manifest:
        kept = list(open_source(clips[clip["label"] or clip["file"]], fps=25))
        times = np.array([f.t for f in kept])
        gaps = np.diff(times)
        assert gaps.min() > 0
        assert gaps.max() <= 1 / 25 + 1 / clip["fps"] + 1e-6  # never a gap longer than one slot plus one frame
        assert len(kept) == pytest.approx(min(clip["frame_count"], clip["duration_s"] * 25), abs=2)


def test_fps_none_keeps_every_frame(clips, clip_manifest):
    hello = next(c for c in clip_manifest if c["label"] == "hello")
    kept = list(open_source(clips["hello"], fps=None))
    assert len(kept) == hello["frame_count"]
    assert kept[1].t == pytest.approx(1 / hello["fps"])
    assert kept[0].image.shape == (hello["height"], hello["width"], 3)


@pytest.mark.parametrize("suffix,codec", [(".avi", "MJPG"), (".mkv", "mp4v"), (".mov", "mp4v"), (".webm", "VP80")])
def test_video_containers(tmp_path, frames, suffix, codec):
    path = tmp_path / f"clip{suffix}"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 30, (width, height))
    for image in frames:
        writer.write(image)
    writer.release()
    kept = list(open_source(path, fps=None))
    assert len(kept) == len(frames) and kept[0].image.shape == frames[0].shape


def test_gif(tmp_path, frames):
    path = tmp_path / "clip.gif"
    images = [Image.fromarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
    assert len(list(open_source(path, fps=None))) == len(frames)


def test_image_folder_in_name_order(tmp_path, frames):
    for i, image in enumerate(frames[:3]):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    kept = list(open_source(tmp_path, fps=10))
    assert [f.t for f in kept] == pytest.approx([0, 0.1, 0.2])
    np.testing.assert_array_equal(kept[2].image, frames[2])


def bad_sources(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.mp4").write_bytes(b"\x00not a video" * 100)
    (tmp_path / "notes.txt").write_text("hello")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0.png").write_bytes(b"not a png")
    return [
        ("97", "camera 97: could not be opened"),
        (tmp_path / "missing.mp4", "missing.mp4: no such file or folder"),
        (tmp_path / "garbage.mp4", "garbage.mp4: cannot be decoded as a video"),
        (tmp_path / "notes.txt", "notes.txt: not a video"),
        (tmp_path / "empty", "empty: folder has no images"),
    ]


def test_bad_sources_name_the_problem(tmp_path):
    for source, message in bad_sources(tmp_path):
        with pytest.raises(SignlangError, match=message):
            list(open_source(source))
    with pytest.raises(SignlangError, match="0.png: cannot be decoded as an image"):
        list(open_source(tmp_path / "broken"))
    with pytest.raises(SignlangError, match="must be a positive number"):
        open_source(tmp_path, fps=0)
