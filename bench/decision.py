"""The decision rule's confidence (config.CONFIDENCE: the mean probability a sign needs over its N agreeing
predictions) at several values side by side, on the same predictions of one model, in one run.

One fold of bench/streams.py's cross-validation (grouped by person): the shipped recipe (by default its three
networks and the veto network, as in action.h5) is trained on the other people; the Detector then judges the
left-out people's streams (bench/streams.py's, back to back and with rest), their idle recordings and
recordings of other signs, and the shared clips, once per confidence. The model's windows are predicted once,
so the columns differ by the rule only, not by training.

    .venv/bin/python bench/decision.py --fold 0      # about 13 minutes on 2 cores
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fold", type=int, default=0, help="which fold (0-based) of --folds")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--members", type=int, default=config.MEMBERS, help="networks averaged")
    parser.add_argument("--epochs", type=int, default=config.EPOCHS)
    parser.add_argument("--confidence", type=float, nargs="+", default=[config.CONFIDENCE, 0.7, 0.6])
    parser.add_argument("--limit-people", type=int, help="quick smoke run: only this many people")
    parser.add_argument("--data", nargs="+", default=[str(streams.SHARED / "data/signers"),
                                                       str(streams.SHARED / "data/more_signs")])
    parser.add_argument("--videos", default=str(streams.SHARED / "videos"), help="clips with manifest.json")
    args = parser.parse_args()
    args.patience = config.PATIENCE

    clips, silent, signing = streams.shared_clips(args.videos)
    ds, te, predict, outputs = streams.shipped_fold(args)

    def judged(frames):
        """{confidence: words} for one stream of frames, its windows predicted once."""
        asked = streams.windows(frames, outputs)
        rows = predict(np.stack(asked)) if asked else []
        return {c: streams.replay(frames, rows, outputs, confidence=c) for c in args.confidence}

    counts = {c: {"edits": {k: 0 for k in streams.KINDS}, "exact": {k: 0 for k in streams.KINDS},
                  "idle": 0, "other": 0, "clips": 0, "signing": 0} for c in args.confidence}
    words = {k: 0 for k in streams.KINDS}
    n_streams = {k: 0 for k in streams.KINDS}
    hits = total = idle_frames = others = 0
    for person, X, y, idle, other, theirs in streams.left_out(ds, te):
        if len(y):
            hits += int((predict(X).argmax(-1) == [outputs.index(s) for s in y]).sum())
            total += len(y)
        for kind, frames, expected in theirs:
            words[kind] += len(expected)
            n_streams[kind] += 1
            for c, got in judged(frames).items():
                counts[c]["edits"][kind] += edit_distance(expected, got)
                counts[c]["exact"][kind] += got == expected
        if idle is not None:
            idle_frames += len(idle)
            for c, got in judged(idle).items():
                counts[c]["idle"] += len(got)
        for frames in other:
            others += 1
            for c, got in judged(frames).items():
                counts[c]["other"] += bool(got)
        streams.log(f"{person}: done")
    for name in silent:
        for c, got in judged(clips[name][1]).items():
            counts[c]["clips"] += len(got)
    for name in signing:
        expected, frames = clips[name]
        for c, got in judged(frames).items():
            counts[c]["signing"] += got == expected

    minutes = lambda frames: frames / config.FPS / 60
    silent_minutes = minutes(sum(len(clips[name][1]) for name in silent))
    rows = [(f"streams {k}: word error rate (exact)",
             lambda n, k=k: f"{100 * n['edits'][k] / max(words[k], 1):.1f} % ({100 * n['exact'][k] / max(n_streams[k], 1):.0f} %)")
            for k in streams.KINDS]
    rows += [("idle recordings: false signs / min",
              lambda n: f"{n['idle'] / minutes(idle_frames):.2f}" if idle_frames else "-"),
             ("other signs' recordings with a false sign", lambda n: f"{100 * n['other'] / others:.1f} %" if others else "-"),
             ("shared clips without a sign: false signs / min", lambda n: f"{n['clips'] / silent_minutes:.2f}"),
             ("shared signing clips exactly right", lambda n: f"{n['signing']} of {len(signing)}")]
    print(f"\nfold {args.fold + 1} of {args.folds}, shipped recipe ({args.members} network(s) + veto): "
          f"{len(np.unique(ds.groups[te]))} people left out, accuracy on their sign sequences "
          f"{100 * hits / max(total, 1):.1f} % (the same for every confidence); {sum(n_streams.values())} streams, "
          f"{minutes(idle_frames):.1f} min of idle recordings, {others} other-sign recordings, "
          f"{silent_minutes:.1f} min of shared clips without a sign")
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'confidence':<{width}}" + "".join(f"{c:>18}" for c in args.confidence))
    for name, cell in rows:
        print(f"{name:<{width}}" + "".join(f"{cell(counts[c]):>18}" for c in args.confidence))


if __name__ == "__main__":
    main()
