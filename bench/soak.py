"""Soak test: `signlang detect`'s pipeline over a looped shared clip for a set time, printing memory and
frames/s each minute; at the end, the memory growth and the spread of the rate.

The pipeline is the real one (signlang.realtime.run: Holistic one frame ahead in a thread, the Detector, the
LiteRT predictor), run headless without --out, as on a server; the clip is opened and decoded again on each
pass, as a long camera session keeps reading frames. Memory is flat when the process's own (anonymous)
memory grows by less than 5 % from the end of the first minute (model and graphs loaded, allocators warm) to
the end; the rate is steady when the minutes' rates stay close (on a shared machine they follow its load).
"""

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from signlang import config, realtime  # noqa: E402
from signlang.predictor import load_predictor  # noqa: E402
from signlang.sources import Frame, open_source  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIP = SHARED / "videos" / "Ben8176__holdit__Untitled9.mov"  # hello then iloveyou: signs on every pass
GROWTH_TARGET = 5.0  # %


def memory_mb():
    """(resident, own) memory of this process in MB: own is its anonymous memory (heap, arrays; swapped out
    too), what a leak grows; resident also counts mapped files (libraries, models), which the kernel may
    evict and read again when other jobs need memory. Linux /proc; elsewhere both are the peak (getrusage).
    """
    try:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        kb = lambda key: int(status.get(key, "0 kB").split()[0])
        return kb("VmRSS") / 2**10, (kb("RssAnon") + kb("VmSwap")) / 2**10
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
        return peak, peak  # bytes on macOS, KiB on Linux


class Minutes:
    """Counts frames; each `interval` seconds prints the memory and that interval's frames/s."""

    def __init__(self, interval):
        self.interval, self.start, self.frames, self.rows = interval, time.perf_counter(), 0, []
        self.mark, self.marked_frames = self.start, 0

    def tick(self, now):
        if now - self.mark >= self.interval:
            rate = (self.frames - self.marked_frames) / (now - self.mark)
            resident, own = memory_mb()
            self.rows.append((own, rate, resident))
            self.mark, self.marked_frames = now, self.frames
            print(f"{(now - self.start) / 60:6.1f} min: own memory {own:7.1f} MB (resident {resident:7.1f} MB), "
                  f"{rate:5.1f} frames/s, {self.frames} frames so far", flush=True)
        self.frames += 1


def looped(clip, fps, seconds, minutes):
    """The clip's sampled frames, pass after pass, with times running on, for `seconds`."""
    offset = 0.0
    while True:
        t = 0.0
        for frame in open_source(clip, fps):
            now = time.perf_counter()
            if now - minutes.start >= seconds:
                return
            minutes.tick(now)
            t = frame.t
            yield Frame(frame.image, offset + t)
        offset += t + 1 / fps


def summary(rows):
    """The final line: memory growth from the first to the last interval, and the rates' spread."""
    if len(rows) < 2:
        return "soak: too short for a figure (run at least two intervals)"
    first, last = rows[0][0], rows[-1][0]
    growth = 100 * (last - first) / first
    rates = [rate for _, rate, _ in rows]
    middle = statistics.median(rates)
    spread = 100 * (max(rates) - min(rates)) / middle
    verdict = "flat" if growth < GROWTH_TARGET else "NOT flat"
    return (f"soak: {len(rows)} intervals; own memory {first:.1f} MB after the first, {last:.1f} MB at the end, "
            f"peak {max(r[0] for r in rows):.1f} MB: growth {growth:+.2f} % ({verdict}, target < {GROWTH_TARGET:g} %), "
            f"resident {rows[0][2]:.1f} -> {rows[-1][2]:.1f} MB; "
            f"frames/s median {middle:.1f}, min {min(rates):.1f}, max {max(rates):.1f}: spread {spread:.1f} % of the median")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="how long to run (default 10)")
    parser.add_argument("--clip", type=Path, default=CLIP, help="the clip to loop (default: a shared continuous clip)")
    parser.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    parser.add_argument("--interval", type=float, default=60, help="seconds between reports (default 60: each minute)")
    args = parser.parse_args()
    if not args.clip.exists():
        sys.exit(f"soak: {args.clip}: absent (the shared clips live in ../shared/videos)")
    predictor = load_predictor(args.model)
    print(f"soak: {args.clip.name} looped for {args.minutes:g} minutes through signlang detect's pipeline "
          f"({args.model}, LiteRT, Holistic, {config.FPS} frames/s sampling); own memory {memory_mb()[1]:.1f} MB at the start",
          flush=True)
    minutes = Minutes(args.interval)
    result = realtime.run(looped(args.clip, config.FPS, 60 * args.minutes, minutes), predictor)
    print(f"soak: {result['frames']} frames, {len(result['sentence'])} signs given", flush=True)
    print(summary(minutes.rows), flush=True)


if __name__ == "__main__":
    main()
