"""Keypoint extraction speed with 1 and 2 worker processes, measured side by side on the shared clips.

Each setting runs `extract` twice, over the clips once and over `--repeat` copies of them; the extra
frames divided by the extra time is the steady-state rate, free of process and Holistic start-up.
The cores kept busy (CPU time of this process and its workers / wall time) of the long run show how
close a setting is to the machine's limit.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from signlang import config
from signlang.collect import extract, video_keypoints

SHARED = Path(__file__).resolve().parents[2] / "shared"


def cpu_seconds():
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def seconds(videos, workers):
    """(wall, CPU) seconds of one extract run."""
    with tempfile.TemporaryDirectory() as data:
        start, cpu = time.perf_counter(), cpu_seconds()
        extract(videos, "bench", data, workers=workers, progress=False)
        return time.perf_counter() - start, cpu_seconds() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=4, help="copies of the clip set in the long run")
    args = parser.parse_args()
    if not (SHARED / "videos").exists():
        sys.exit(f"skipped: {SHARED / 'videos'} is absent")
    clips = sorted((SHARED / "videos").glob("*.mp4"))
    frames = sum(len(video_keypoints(clip)) for clip in clips)  # sampled frames, at config.FPS
    print(f"{len(clips)} clips, {frames} frames sampled at {config.FPS:g} frames/s; long run x{args.repeat}")
    rates = {}
    for workers in (1, 2):
        (short, _), (long, cpu) = seconds(clips, workers), seconds(clips * args.repeat, workers)
        rates[workers] = frames * (args.repeat - 1) / (long - short)
        print(f"workers={workers}: {rates[workers]:.1f} frames/s steady "
              f"(whole short run {frames / short:.1f} frames/s); "
              f"long run: {cpu:.1f} s CPU in {long:.1f} s, {cpu / long:.2f} cores busy")
    print(f"speed-up 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
