"""Keypoint extraction speed side by side on the shared clips: 1 process, 2 worker processes, local Ray with
2 actors.

Each setting runs `extract` twice, over the clips once and over `--repeat` copies of them (filed under
other action names, so they are not skipped as done); the extra frames divided by the extra time is the
steady-state rate, free of process, Ray and Holistic start-up. Cores busy = CPU time of this process and
every process under it (workers, Ray's raylet and actors; sampled every 0.2 s) / wall time of the long run.
Ray's per-clip overhead is its steady time per clip minus that of the 2 worker processes.
"""

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from signlang import config
from signlang.collect import video_keypoints
from signlang.extract import extract

SHARED = Path(__file__).resolve().parents[2] / "shared"


class CpuMeter:
    """CPU seconds of this process and all its descendants, including ones that end between samples."""

    def __init__(self):
        self.seen, self.stop = {}, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.wait(0.2):
            self.sample()

    def sample(self):
        me = psutil.Process()
        for process in [me] + me.children(recursive=True):
            try:
                times = process.cpu_times()
                self.seen[process.pid] = times.user + times.system
            except psutil.Error:
                continue

    def __enter__(self):
        self.sample()
        self.before = dict(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.sample()
        self.seconds = sum(cpu - self.before.get(pid, 0) for pid, cpu in self.seen.items())


def run(clips, copies, workers, ray):
    """(wall, CPU) seconds of one extract run over `copies` copies of the clips."""
    jobs = [(clip, f"copy{c}") for c in range(copies) for clip in clips]
    with tempfile.TemporaryDirectory() as data, CpuMeter() as cpu:
        start = time.perf_counter()
        outcome = extract(jobs, data, workers=workers, progress=False, ray=ray)
        wall = time.perf_counter() - start
    assert outcome.extracted == len(jobs) and not outcome.failed, outcome.failed
    return wall, cpu.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="copies of the clip set in the long run")
    args = parser.parse_args()
    if not (SHARED / "videos").exists():
        sys.exit(f"skipped: {SHARED / 'videos'} is absent")
    clips = sorted((SHARED / "videos").glob("*.mp4"))
    frames = sum(len(video_keypoints(clip)) for clip in clips)  # sampled frames, at config.FPS
    print(f"{len(clips)} clips, {frames} frames sampled at {config.FPS:g} frames/s; long run x{args.repeat}")
    settings = {"1 process": (1, None), "2 worker processes": (2, None)}
    try:
        import ray
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"local Ray started in {time.perf_counter() - start:.1f} s (not counted below)")
        settings["local Ray, 2 actors"] = (2, "")
    except ImportError:
        print("Ray is not installed (pip install 'signlang[ray]'): its line is left out")
    extra_clips = len(clips) * (args.repeat - 1)
    per_clip = {}
    for name, (workers, ray_address) in settings.items():
        (short, _), (long, cpu) = run(clips, 1, workers, ray_address), run(clips, args.repeat, workers, ray_address)
        per_clip[name] = (long - short) / extra_clips
        print(f"{name:20s} {frames * (args.repeat - 1) / (long - short):6.1f} frames/s steady "
              f"(whole runs: short {frames / short:.1f}, long {frames * args.repeat / long:.1f}); "
              f"long run: {cpu:.1f} s CPU in {long:.1f} s, {cpu / long:.2f} cores busy")
    if "local Ray, 2 actors" in per_clip:
        overhead = per_clip["local Ray, 2 actors"] - per_clip["2 worker processes"]
        print(f"Ray's overhead per clip vs 2 worker processes: {overhead * 1000:+.0f} ms "
              f"({per_clip['2 worker processes'] * 1000:.0f} ms a clip with 2 processes)")
    cores = psutil.cpu_count()
    best = frames / len(clips) / min(per_clip.values())
    print(f"best steady rate {best:.1f} frames/s on {cores} cores: {best / cores:.1f} frames/s a core")

if __name__ == "__main__":
    main()
