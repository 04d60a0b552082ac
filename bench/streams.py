"""Signs in streams and no signs at rest, on people left out: the shipped recipe beside the baseline.

One run of grouped k-fold cross-validation by person over everyone in the shared data (signers and
more_signs: hello / thanks / iloveyou are the signs, idle recordings "no sign", other signs learnt by the
shipped recipe's veto network only, as in `make train`). Each fold trains both recipes on the same examples
(signlang.train.examples; the baseline has no veto) and scores the people it left out:
accuracy on their sign sequences; their sequences joined into streams of 4 signs, back to back and with
rest between them, through the real Detector (word error rate, exact sentences); false signs per minute
on their idle recordings and on the shared clips without a vocabulary sign (whose people are in no
fold); the share of their recordings of other signs (yes, no, please, help, sorry) that give a sign; and
the shared signing clips, exact sentence each. The table at the end puts both recipes
beside the targets of the issue; per-fold progress goes to stderr.

    .venv/bin/python bench/streams.py            # full: 5 folds over everyone (long: roughly an hour or more on 2 cores)
    nice -n 15 .venv/bin/python bench/streams.py --folds 2 --limit-people 12 --epochs 3 --members 1   # smoke
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from baseline import Baseline  # bench/baseline.py, beside this file
from sklearn.model_selection import GroupKFold

from signlang import collect, config, data, nosign, train
from signlang.detector import Detector
from signlang.evaluate import edit_distance
from signlang.layout import FRAME_SIZE

SHARED = Path(__file__).resolve().parents[2] / "shared"
RECIPES = ("shipped", "baseline")
STREAMS, STREAM_SIGNS, REST = 10, 4, (15, 40)  # streams per person and kind, signs per stream, rest frames
KINDS = ("back to back", "with rest")


def log(*message):
    print(*message, file=sys.stderr, flush=True)


def detect(frames, predict, outputs, times=None, stable=config.STABLE_FRAMES, confidence=config.CONFIDENCE):
    """The words the Detector gives for keypoint frames, as `signlang detect` runs it (flush included);
    times: each frame's, as a camera gives them (None: pushed without)."""
    detector = Detector(predict, outputs, threshold=config.THRESHOLD, stable=stable, no_sign=config.NO_SIGN,
                        confidence=confidence)
    for frame, t in zip(frames, [None] * len(frames) if times is None else times):
        detector.push(frame, t)
    detector.flush()
    return detector.words


def sentence(frames, predict_batch, outputs, times=None, stable=config.STABLE_FRAMES):
    """detect() with one batched prediction (see windows and replay)."""
    asked = windows(frames, outputs, times, stable)
    return replay(frames, predict_batch(np.stack(asked)) if asked else [], outputs, times, stable)


def windows(frames, outputs, times=None, stable=config.STABLE_FRAMES):
    """The windows the Detector asks the model about, in order: they depend on the frames only, not on its
    decisions, so one batched prediction of them serves any decision rule (replay)."""
    asked, uniform = [], np.full(len(outputs), 1 / len(outputs), np.float32)

    def record(window):
        asked.append(window)
        return uniform

    detect(frames, record, outputs, times, stable)
    return asked


def replay(frames, rows, outputs, times=None, stable=config.STABLE_FRAMES, confidence=config.CONFIDENCE):
    """detect() with the model's answers to windows() given as rows, in order."""
    rows = iter(rows)
    return detect(frames, lambda window: next(rows), outputs, times, stable, confidence)


def person_streams(X, y, idle, rng):
    """STREAMS streams of each kind from one person's sign sequences X, y: (kind, frames, expected words).

    back to back: no two neighbours the same sign, sequences joined frame to frame. with rest: any signs
    (a repeat counts twice: the rest separates them), 15-40 rest frames before, between and after them,
    cut from the person's idle frames when given, else the next sign's first frame (the last sign's last
    frame at the end) with the hands down (signlang.nosign.at_rest).
    """
    signs = sorted(set(y))
    pick = lambda word: X[rng.choice(np.flatnonzero(y == word))]
    streams = []
    for _ in range(STREAMS):
        words = [str(rng.choice(signs))]
        while len(words) < STREAM_SIGNS:
            words.append(str(rng.choice([s for s in signs if s != words[-1]])))
        streams.append(("back to back", np.concatenate([pick(w) for w in words]), words))
    for _ in range(STREAMS):
        words = [str(w) for w in rng.choice(signs, STREAM_SIGNS)]
        seqs, parts = [pick(w) for w in words], []
        for seq in seqs + [None]:
            n = int(rng.integers(REST[0], REST[1] + 1))
            if idle is not None and len(idle) >= n:
                start = int(rng.integers(0, len(idle) - n + 1))
                parts.append(idle[start:start + n])
            else:
                parts.append(nosign.at_rest(np.repeat(seqs[-1][-1:] if seq is None else seq[:1], n, 0), rng))
            if seq is not None:
                parts.append(seq)
        streams.append(("with rest", np.concatenate(parts), words))
    return streams


def left_out(ds, te):
    """What each person left out of a fold (indices te of ds) is judged on, person by person: (person, their sign
    sequences, their signs, their idle frames or None, their recordings of signs outside the vocabulary,
    their streams: person_streams, seeded by their name; none with fewer than two signs)."""
    idlers = set(ds.groups[ds.y == config.NO_SIGN])
    for person in np.unique(ds.groups[te]):
        mine = te[ds.groups[te] == person]
        X, y = ds.X[mine], ds.y[mine]
        sign = np.isin(y, config.ACTIONS)
        idle = X[y == config.NO_SIGN].reshape(-1, FRAME_SIZE) if person in idlers else None
        rng = np.random.default_rng(zlib.crc32(person.encode()))
        streams = person_streams(X[sign], y[sign], idle, rng) if len(set(y[sign])) >= 2 else []
        yield person, X[sign], y[sign], idle, X[~sign & (y != config.NO_SIGN)], streams


def pct(v):
    return "-" if v is None else f"{100 * v:.1f} %"


def num(v):
    return "-" if v is None else f"{v:.2f}"


def shared_clips(videos):
    """The shared clips' keypoints (real MediaPipe): ({file: (expected signs, keypoints)}, the files without a
    sign of the vocabulary, the signing ones)."""
    manifest = json.loads((Path(videos) / "manifest.json").read_text())["clips"]
    clips = {}
    for c in manifest:
        log(f"keypoints of {c['file']} ({c['kind']})")
        clips[c["file"]] = (list(c["signs"]), collect.video_keypoints(Path(videos) / c["file"]))
    silent = [c["file"] for c in manifest if c["kind"] in ("idle", "other-sign")]
    signing = [c["file"] for c in manifest if c["kind"] in ("single", "continuous")]
    return clips, silent, signing


def faces(folders):
    """{person: "full" | "sparse"} from the data folders' manifest.json."""
    face = {}
    for path in (Path(f) / "manifest.json" for f in folders):
        manifest = json.loads(path.read_text()) if path.exists() else {}
        for p in manifest.get("signers", []) + manifest.get("people", []):
            face.setdefault(p["signer"], p.get("face", "?"))
    return face


def limit(ds, n, seed=0):
    """n people chosen by a seeded rng, a quarter of them (at least 2) among those with idle recordings and
    two signs or more (so that some streams rest on real idle frames)."""
    rng = np.random.default_rng(seed)
    signers = np.unique(ds.groups[np.isin(ds.y, config.ACTIONS)])
    idlers = [p for p in np.unique(ds.groups[ds.y == config.NO_SIGN])
              if len(set(ds.y[(ds.groups == p) & np.isin(ds.y, config.ACTIONS)])) >= 2]
    few = rng.choice(idlers, min(len(idlers), max(2, n // 4), n), replace=False)
    chosen = np.concatenate([few, rng.choice(np.setdiff1d(signers, few), n - len(few), replace=False)])
    keep = np.isin(ds.groups, chosen)
    return data.Dataset(ds.X[keep], ds.y[keep], ds.groups[keep], data.order_actions(set(ds.y[keep])))


def fit(recipe, X, labels, groups, outputs, other, args, fold):
    """Trains one recipe on a fold's examples (the shipped one with its veto network learnt from `other`, as in
    `make train`); returns its batch predictor (windows -> probabilities)."""
    if recipe == "baseline":
        return Baseline(seed=fold).fit(X, labels, n_classes=len(outputs)).predict_proba
    Y = np.eye(len(outputs), dtype=np.float32)[labels]
    model = train.fit_members(X, Y, groups, "shipped", args.members, args.epochs, patience=args.patience,
                              seed=10 * fold, verbose=0, other=other)[0]
    return lambda windows: model.predict(windows, batch_size=1024, verbose=0)


def shipped_fold(args):
    """The shipped recipe trained on the people outside fold args.fold of args.folds (bench/rates.py,
    bench/decision.py): (the run's Dataset, the left-out indices, its batch predictor, its outputs)."""
    ds = load(args)
    tr, te = list(GroupKFold(args.folds).split(ds.X, ds.y, ds.groups))[args.fold]
    fold = data.Dataset(ds.X[tr], ds.y[tr], ds.groups[tr], ds.actions)
    X, labels, groups, outputs = train.examples(fold, list(config.ACTIONS), no_sign=True, seed=args.fold)
    return ds, te, fit("shipped", X, labels, groups, outputs, train.other_signs(fold, outputs), args, args.fold), outputs


def load(args):
    """The run's Dataset: everyone in args.data, or args.limit_people of them."""
    ds = data.load(args.data)
    return limit(ds, args.limit_people) if args.limit_people else ds


def run_fold(args, recipes, fold, tr, te, clips, silent, signing):
    """Trains each recipe on the people of `tr` and scores those of `te`: {recipe: raw results of the fold}."""
    ds = load(args)
    fold_ds = data.Dataset(ds.X[tr], ds.y[tr], ds.groups[tr], ds.actions)
    X, labels, groups, outputs = train.examples(fold_ds, list(config.ACTIONS), no_sign=True, seed=fold)
    other = train.other_signs(fold_ds, outputs)
    del fold_ds
    raw = {r: {"people": {}, "streams": [], "idle": [], "other": [], "clips": {}} for r in recipes}
    predictors = {}
    for r in recipes:
        start = time.perf_counter()
        predictors[r] = fit(r, X, labels, groups, outputs, other, args, fold)
        raw[r]["train_s"], raw[r]["examples"] = time.perf_counter() - start, len(X)
        log(f"fold {fold + 1}/{args.folds} {r}: trained in {raw[r]['train_s']:.0f} s on {len(X)} examples")
    del X, labels, groups, other
    for person, X, y, idle, others, streams in left_out(ds, te):
        for r, predict in predictors.items():
            if len(y):
                hits = predict(X).argmax(-1) == np.array([outputs.index(s) for s in y])
                raw[r]["people"][person] = (int(hits.sum()), len(y))
            raw[r]["streams"] += [{"person": person, "kind": kind, "expected": words,
                                   "detected": sentence(frames, predict, outputs)} for kind, frames, words in streams]
            if idle is not None:
                raw[r]["idle"].append({"person": person, "frames": len(idle), "signs": sentence(idle, predict, outputs)})
            raw[r]["other"] += [bool(sentence(frames, predict, outputs)) for frames in others]
    for r, predict in predictors.items():
        false = sum(len(sentence(clips[c][1], predict, outputs)) for c in silent)
        raw[r]["clips_fpm"] = false / (sum(len(clips[c][1]) for c in silent) / config.FPS / 60)
        raw[r]["clips"] = {c: sentence(clips[c][1], predict, outputs) for c in signing}
    return raw


def merge(raw, fold):
    """Adds one fold's raw results (run_fold) to the run's."""
    raw["people"].update(fold["people"])
    for key in ("streams", "idle", "other"):
        raw[key] += fold[key]
    for key in ("clips_fpm", "train_s", "examples"):
        raw[key].append(fold[key])
    for c, detected in fold["clips"].items():
        raw["clips"][c]["detected"].append(detected)


def score(res, face, total_examples):
    """The figures of one recipe from its raw results (over the folds so far); total_examples: everyone's."""
    ratio = lambda a, b: a / b if b else None
    acc = {p: h / n for p, (h, n) in res["people"].items()}
    share = lambda ps: ratio(sum(res["people"][p][0] for p in ps), sum(res["people"][p][1] for p in ps))
    wer = lambda ss: ratio(sum(edit_distance(s["expected"], s["detected"]) for s in ss),
                           sum(len(s["expected"]) for s in ss))
    f = {"accuracy": share(acc), "people_90": ratio(sum(a >= 0.9 for a in acc.values()), len(acc)),
         "worst": sorted(acc.items(), key=lambda pa: pa[1])[:3]}
    for part in ("full", "sparse"):
        f[f"accuracy_{part}"] = share([p for p in acc if face.get(p) == part])
        f[f"wer_{part}"] = wer([s for s in res["streams"] if face.get(s["person"]) == part])
    for kind in KINDS:
        ss = [s for s in res["streams"] if s["kind"] == kind]
        f[f"wer {kind}"] = wer(ss)
        f[f"exact {kind}"] = ratio(sum(s["expected"] == s["detected"] for s in ss), len(ss))
    f["other_false"] = ratio(sum(res["other"]), len(res["other"]))
    f["idle_fpm"] = ratio(sum(len(i["signs"]) for i in res["idle"]), sum(i["frames"] for i in res["idle"]) / config.FPS / 60)
    f["clips_fpm"] = ratio(sum(res["clips_fpm"]), len(res["clips_fpm"]))
    f["clips_exact"] = {c: sum(d == v["expected"] for d in v["detected"]) for c, v in res["clips"].items()}
    f["train_s"] = res["train_s"]
    f["make_train_s"] = float(np.mean([t * total_examples / n for t, n in zip(res["train_s"], res["examples"])]))
    return f


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5, help="grouped by person")
    parser.add_argument("--members", type=int, default=config.MEMBERS, help="shipped: networks averaged")
    parser.add_argument("--epochs", type=int, default=config.EPOCHS, help="shipped: at most this many epochs")
    parser.add_argument("--patience", type=int, default=config.PATIENCE, help="shipped: early-stopping patience")
    parser.add_argument("--only", choices=RECIPES, help="run one recipe only")
    parser.add_argument("--limit-people", type=int, help="quick smoke run: only this many people")
    parser.add_argument("--data", nargs="+", default=[str(SHARED / "data/signers"), str(SHARED / "data/more_signs")],
                        help="data folders (one archive per person; same file name = same person)")
    parser.add_argument("--videos", default=str(SHARED / "videos"), help="clips with manifest.json")
    parser.add_argument("--json", help="write every figure to this JSON file")
    args = parser.parse_args()
    recipes = [args.only] if args.only else list(RECIPES)

    ds = load(args)
    face, people = faces(args.data), np.unique(ds.groups)
    idlers = set(ds.groups[ds.y == config.NO_SIGN])
    clips, silent, signing = shared_clips(args.videos)
    total = len(train.examples(ds, list(config.ACTIONS))[1])  # what make train trains on
    log(f"{len(ds.y)} sequences of {len(people)} people ({len(idlers)} with idle recordings), {args.folds} folds")

    raw = {r: {"people": {}, "streams": [], "idle": [], "other": [], "clips_fpm": [], "train_s": [], "examples": [],
               "clips": {c: {"expected": clips[c][0], "detected": []} for c in signing}} for r in recipes}
    # One process per fold: memory TensorFlow and the fold's arrays hold is given back when it ends (in one
    # process the run grew past 24 GB by the fourth fold).
    spawn = multiprocessing.get_context("spawn")
    for fold, (tr, te) in enumerate(GroupKFold(args.folds).split(ds.X, ds.y, ds.groups)):
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            got = pool.submit(run_fold, args, recipes, fold, tr, te, clips, silent, signing).result()
        for r in recipes:
            merge(raw[r], got[r])
            f = score(raw[r], face, total)
            log(f"fold {fold + 1}/{args.folds} {r}, folds so far: accuracy {pct(f['accuracy'])}, WER back to back "
                f"{pct(f['wer back to back'])}, with rest {pct(f['wer with rest'])}, false signs/min idle "
                f"{num(f['idle_fpm'])}, clips {num(f['clips_fpm'])}")

    figures = {r: score(raw[r], face, total) for r in recipes}
    rows = [("accuracy on people left out", lambda f: pct(f["accuracy"]), ">= 98.5 %, > baseline"),
            ("  face full / sparse", lambda f: f"{pct(f['accuracy_full'])} / {pct(f['accuracy_sparse'])}", ""),
            ("people with >= 90 % of signs right", lambda f: pct(f["people_90"]), ">= 90 %")]
    for kind in KINDS:
        rows += [(f"streams {kind}: word error rate", lambda f, k=kind: pct(f[f"wer {k}"]), "<= 3 %"),
                 (f"streams {kind}: exact sentences", lambda f, k=kind: pct(f[f"exact {k}"]), "")]
    rows += [("  streams, face full / sparse: WER", lambda f: f"{pct(f['wer_full'])} / {pct(f['wer_sparse'])}", ""),
             ("idle recordings: false signs / min", lambda f: num(f["idle_fpm"]), "<= 0.3"),
             ("clips without a sign: false signs / min", lambda f: num(f["clips_fpm"]), "<= 0.3 (mean of folds)"),
             ("other signs' recordings with a false sign", lambda f: pct(f["other_false"]), "")]
    rows += [(f"{c}: exact", lambda f, c=c: f"{f['clips_exact'][c]} of {args.folds} folds", f"{args.folds} of {args.folds}")
             for c in signing]
    rows += [("training per fold (total)", lambda f: f"{np.mean(f['train_s']):.0f} s ({sum(f['train_s']):.0f} s)", ""),
             ("make train on everyone (ESTIMATE)", lambda f: f"~{f['make_train_s'] / 60:.1f} min", "< 15 min (shipped)")]

    n_streams = len(raw[recipes[0]]["streams"])
    stream_people = {s["person"] for s in raw[recipes[0]]["streams"]}
    print(f"\n{len(ds.y)} sequences, {len(people)} people, {args.folds} folds grouped by person; {n_streams} streams of "
          f"{STREAM_SIGNS} signs from {len(stream_people)} people (rest: own idle recordings for "
          f"{len(stream_people & idlers)} people, synthetic for the others); idle recordings of {len(idlers)} people; "
          f"{len(silent)} clips without a sign ({sum(len(clips[c][1]) for c in silent) / config.FPS / 60:.1f} min)")
    for c in signing:
        print(f"{c}: expected {' '.join(clips[c][0])}; " + "; ".join(
            f"{r}: " + " | ".join(" ".join(d) or "(none)" for d in raw[r]["clips"][c]["detected"]) for r in recipes))
    for r in recipes:
        print(f"worst people, {r}: " + ", ".join(f"{p} {100 * a:.1f} %" for p, a in figures[r]["worst"]))
    for r in recipes:
        print(f"training time per fold, {r}: {', '.join(f'{t:.0f}' for t in raw[r]['train_s'])} s "
              f"(total {sum(raw[r]['train_s']):.0f} s)")
    print(f"make train on everyone ~ T x (all examples / fold examples) = T x {total} / {raw[recipes[0]]['examples']}, "
          f"T a fold's training time, mean over folds: an ESTIMATE, not a run of make train\n")
    width = max(len(name) for name, _, _ in rows) + 2
    print(f"{'':{width}}" + "".join(f"{r:>22}" for r in RECIPES) + f"{'target':>26}")
    for name, cell, target in rows:
        print(f"{name:<{width}}" + "".join(f"{cell(figures[r]) if r in figures else '-':>22}" for r in RECIPES)
              + f"{target:>26}")
    if args.json:
        everything = {"args": vars(args), "sequences": len(ds.y), "people": len(people), "idle_people": sorted(idlers),
                      "total_examples": total, "figures": figures, "raw": raw}
        Path(args.json).write_text(json.dumps(everything, indent=1,
                                              default=lambda o: o.item() if hasattr(o, "item") else str(o)))


if __name__ == "__main__":
    main()
