"""Slow sources: runs of signs of people left out, seen at 25, 12.5 and 8.3 frames/s, with the fill up to 25
frames/s (signlang.timeline: the frames a slow source skips are blended in) beside the way before it (every
frame as it comes, N agreeing predictions scaled down with the rate), in one run.

One fold of bench/streams.py's cross-validation (grouped by person): one network of the shipped recipe and its
veto network are trained on the other people, then each left-out person's sign sequences are joined into
bench/streams.py's streams (back to back and with rest) at 25 frames/s; a slower camera or machine is every
2nd or 3rd frame of them with its time. Printed: the word error rate at each rate, both ways.

    .venv/bin/python bench/rates.py                # fold 2 of 5 (9 minutes on 2 cores)
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import streams  # bench/streams.py, beside this file
from signlang import config
from signlang.evaluate import edit_distance

EVERY = {"25": 1, "12.5": 2, "8.3": 3}  # frames/s: every k-th frame of a 25 frames/s stream


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fold", type=int, default=1, help="which fold (0-based) of --folds")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=config.EPOCHS)
    parser.add_argument("--limit-people", type=int, help="quick smoke run: only this many people")
    parser.add_argument("--data", nargs="+", default=[str(streams.SHARED / "data/signers"),
                                                       str(streams.SHARED / "data/more_signs")])
    args = parser.parse_args()
    args.members, args.patience = 1, config.PATIENCE

    ds, te, predict, outputs = streams.shipped_fold(args)

    errors = {(rate, way): 0 for rate in EVERY for way in ("filled", "before")}
    total, people = 0, 0
    for person, _, _, _, _, theirs in streams.left_out(ds, te):
        if not theirs:
            continue
        people += 1
        for _, frames, expected in theirs:
            total += len(expected)
            times = np.arange(len(frames)) / config.FPS
            for rate, k in EVERY.items():
                old = max(1, round(config.STABLE_FRAMES / k))
                errors[rate, "filled"] += edit_distance(expected, streams.sentence(
                    frames[::k], predict, outputs, times[::k]))
                errors[rate, "before"] += edit_distance(expected, streams.sentence(
                    frames[::k], predict, outputs, stable=old))
        streams.log(f"{person}: done ({people} people)")

    print(f"\nfold {args.fold + 1} of {args.folds}: {people} people left out, {total} signs in their streams "
          f"(bench/streams.py's, back to back and with rest)")
    print(f"{'frames/s':>10}{'WER filled up to 25/s':>24}{'WER as before':>16}")
    for rate in EVERY:
        print(f"{rate:>10}{100 * errors[rate, 'filled'] / total:>23.1f}%{100 * errors[rate, 'before'] / total:>15.1f}%")


if __name__ == "__main__":
    main()
