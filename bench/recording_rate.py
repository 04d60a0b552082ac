"""At what frame rate were the shared MP_Data recordings captured? Prints the estimate behind config.FPS.

The tutorial recorded inside its Holistic loop, so its frames are as far apart as one Holistic call.
We compare how many frames a sign's motion spans in the recordings with how many seconds it spans in
the labelled clips (real 60/30 fps videos): frames / seconds = the recordings' rate.
"""

import io
import json
import lzma
import sys
from pathlib import Path

import numpy as np

from signlang import keypoints, layout
from signlang.collect import video_keypoints

SHARED = Path(__file__).resolve().parents[2] / "shared"
WRISTS = [keypoints.mp_holistic.PoseLandmark.LEFT_WRIST, keypoints.mp_holistic.PoseLandmark.RIGHT_WRIST]
SHOULDERS = [keypoints.mp_holistic.PoseLandmark.LEFT_SHOULDER, keypoints.mp_holistic.PoseLandmark.RIGHT_SHOULDER]


def active_span(frames, width, height):
    """Frames between the first and last time a wrist is over 30 % of its widest reach from the start pose."""
    pose = frames[:, layout.POSE].reshape(len(frames), layout.POSE_LANDMARKS, 4)[..., :2] * (width, height)
    shoulder_width = np.linalg.norm(pose[:, SHOULDERS[0]] - pose[:, SHOULDERS[1]], axis=1).mean()
    reach = np.linalg.norm(pose[:, WRISTS] - pose[:1, WRISTS], axis=2).max(axis=1) / shoulder_width
    moving = np.nonzero(reach > 0.3 * reach.max())[0]
    return moving[-1] - moving[0] + 1 if len(moving) else 0


def main():
    if not SHARED.exists():
        sys.exit(f"skipped: {SHARED} (shared recordings and clips) is absent")
    spans = []
    for path in sorted((SHARED / "data" / "signers").glob("*.npz.xz")):
        X = np.load(io.BytesIO(lzma.open(path).read()))["X"].astype(np.float32)
        spans.append(np.median([active_span(x, 640, 480) for x in X]))  # the tutorial's 640x480 webcam
    frames = float(np.median(spans))
    print(f"recordings: a sign's motion spans {frames:.1f} of 30 frames (median of {len(spans)} signers)")
    clips = json.loads((SHARED / "videos" / "manifest.json").read_text())["clips"]
    rates = []
    for clip in (c for c in clips if c["label"]):
        seconds = active_span(video_keypoints(SHARED / "videos" / clip["file"], fps=None), clip["width"], clip["height"]) / clip["fps"]
        rates.append(frames / seconds)
        print(f"{clip['file']}: {clip['label']} spans {seconds:.2f} s -> {rates[-1]:.1f} frames/s")
    print(f"implied recording rate: median {np.median(rates):.1f} frames/s (range {min(rates):.1f}-{max(rates):.1f})")


if __name__ == "__main__":
    main()
