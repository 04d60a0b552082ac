"""Adding a sign from K examples (signlang add-sign) on people the base model never saw, beside the tutorial's way.

For each person in more_signs with signs beyond hello / thanks / iloveyou (yes, no, please, help, sorry),
each such sign in turn is "new": a base model trained without that person (folds by person; the shipped
recipe on everyone else's hello / thanks / iloveyou and idle, signlang.train.examples and fit_members) and
with a veto network that learnt everyone else's other signs except the new one (signlang.train.fit_veto),
the sign added from the person's first K recordings of it (signlang.enroll.add_signs), scored on the
person's remaining recordings: recall of the new sign, accuracy on their known signs (against the base
model's), and windows of their other signs and idle taken for the new sign. The shipped way also takes the
person's own first config.OWN_EXAMPLES recordings of each known sign (as add-sign takes them from MP_Data or
records them); those are left out of every way's scores. Beside it, in the same run: the same without them,
the sign added to the base model without its veto network (new signs in the sign networks' embedding, as
for a model trained without other signs), and the tutorial's way: its LSTM (build_model) trained from
scratch on K of the person's recordings of each of their signs.

    nice -n 5 .venv/bin/python bench/enroll.py --folds 3 --epochs 20     # the README's run (--models DIR keeps the networks)
    ... --ways own --tutorial-k                                           # the shipped way alone
"""

import argparse
import functools
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

from signlang import config, data, enroll, model as M, predictor, train  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KS = (1, 3, 5, 8)


def log(*message):
    print(*message, file=sys.stderr, flush=True)


def tutorial(X, labels, n, epochs, seed):
    """The tutorial's way: its LSTM from scratch on the examples, a fixed number of epochs."""
    keras.utils.set_random_seed(seed)
    net = M.build_model(n)
    net.fit(X, np.eye(n, dtype=np.float32)[labels], epochs=epochs, batch_size=32, verbose=0)
    return net


WAYS = {"own": f"to the base model with its veto network, with the person's own first {config.OWN_EXAMPLES} recordings of "
               "each known sign (the shipped way)",
        "veto": "to the base model with its veto network, without the person's known signs (the shipped way without them)",
        "signs": "to the base model without a veto network, in the sign networks' embedding, without their known signs"}


def table(rows, tut, save_s, people, args, file=sys.stdout):
    """The figures of the cases measured so far."""
    out = functools.partial(print, file=file, flush=True)
    mean = lambda rs, key: 100 * np.nanmean([r[key] for r in rs]) if rs else np.nan
    out(f"\n{len(people)} people with other signs, {args.folds} folds by person; base models: the shipped recipe with "
        f"{args.members} network(s), at most {args.epochs} epochs (shipped: {config.MEMBERS} networks, {config.EPOCHS}), "
        f"a veto network per new sign; the tutorial's LSTM: {args.tutorial_epochs} epochs. Saving + LiteRT conversion: "
        f"{np.mean(save_s) if save_s else float('nan'):.1f} s (mean of {len(save_s)})")
    for way in rows:
        out(f"added {WAYS[way]}")
        out(f"{'K':>3} {'cases':>6} {'new-sign recall':>16} {'known signs':>12} {'(base, change)':>18} "
            f"{'false new':>10} {'seconds':>8}")
        for k in KS:
            rs = rows[way][k]
            delta = np.nanmean([r["known"] - r["known_base"] for r in rs]) * 100 if rs else np.nan
            base = f"({mean(rs, 'known_base'):.1f}%, {delta:+.1f})"
            out(f"{k:>3} {len(rs):>6} {mean(rs, 'recall'):>15.1f}% {mean(rs, 'known'):>11.1f}% {base:>18} "
                f"{mean(rs, 'false'):>9.1f}% {np.mean([r['seconds'] for r in rs]) if rs else np.nan:>8.1f}")
        if way == "own":  # people who recorded none of the known signs get the sign added without them
            for k in KS:
                mine = [r for r in rows[way][k] if r["own"]]
                out(f"    K = {k}: the {len(mine)} cases of people with own recordings of the known signs: new-sign "
                    f"recall {mean(mine, 'recall'):.1f} %, false new {mean(mine, 'false'):.1f} % (the other "
                    f"{len(rows[way][k]) - len(mine)}: {mean([r for r in rows[way][k] if not r['own']], 'recall'):.1f} %)")
    for k, t in tut.items():
        out(f"the tutorial's LSTM from scratch, K = {k}: {len(t)} cases, new-sign recall {mean(t, 'recall'):.1f} %, "
            f"known signs {mean(t, 'known'):.1f} %, false new {mean(t, 'false'):.1f} %")
    out("targets at K = 5: new-sign recall >= 90 %, known-sign accuracy change >= -1 point, under 60 s")


def without(other, sign, n_outputs):
    """other_signs' recordings (X, labels, groups, names) without those of `sign`, labels renumbered."""
    X, labels, groups, names = other
    k = n_outputs + names.index(sign)
    keep = labels != k
    return X[keep], np.where(labels[keep] > k, labels[keep] - 1, labels[keep]), groups[keep], [n for n in names if n != sign]


def cached(folder, name, fit):
    """fit(), or the network kept in folder/name.keras by an earlier run with the same settings (--models)."""
    path = None if folder is None else folder / f"{name}.keras"
    if path is not None and path.exists():
        return keras.models.load_model(path)
    net = fit()
    if path is not None:
        folder.mkdir(parents=True, exist_ok=True)
        net.save(path)
    return net


def load():
    """Everyone's recordings, the signs beyond the vocabulary and the people who recorded them."""
    ds = data.load([SHARED / "signers", SHARED / "more_signs"])
    new_signs = sorted(set(ds.y) - set(config.ACTIONS) - {config.NO_SIGN})
    return ds, new_signs, np.unique(ds.groups[np.isin(ds.y, new_signs)])


def run_fold(args, fold, held):
    """Base models without the people `held`, each of their other signs added to them: (rows, tut, save_s)."""
    ds, new_signs, _ = load()
    actions = list(config.ACTIONS)
    rows = {way: {k: [] for k in KS} for way in args.ways}
    tut = {k: [] for k in args.tutorial_k}
    save_s = []
    base_ds = data.Dataset(*(a[~np.isin(ds.groups, held)] for a in (ds.X, ds.y, ds.groups)), ds.actions)
    X, labels, groups, outputs = train.examples(base_ds, actions, no_sign=True, seed=fold)
    other = train.other_signs(base_ds, outputs)
    del base_ds  # a copy of most of the recordings: kept into the next fold, it ran the machine out of memory
    Y = np.eye(len(outputs), dtype=np.float32)[labels]
    start = time.perf_counter()
    kept = None if args.models is None else Path(args.models) / f"fold{fold}-of-{args.folds}"
    base = cached(kept, "base", lambda: train.fit_members(X, Y, groups, "shipped", args.members, args.epochs,
                                                          seed=10 * fold, verbose=0)[0])
    vetoed = {}  # new sign -> the base model with a veto network that never saw that sign
    for sign in other[3]:
        net = cached(kept, f"veto_{sign}", lambda: train.fit_veto(X, Y, groups, without(other, sign, len(outputs)),
                                                                   args.epochs, seed=10 * fold, verbose=0)[0])
        vetoed[sign] = M.average(enroll.networks(base, "base"), net, len(outputs) - 1)
    log(f"fold {fold + 1}/{args.folds}: base model and {len(vetoed)} veto networks in "
        f"{time.perf_counter() - start:.0f} s, {len(held)} people held out")
    del X, Y, labels, groups, other
    for person in held:
        mine = ds.groups == person
        Xp, yp = ds.X[mine], ds.y[mine]
        own = np.concatenate([np.flatnonzero(yp == a)[:config.OWN_EXAMPLES] for a in actions]).astype(int)
        for sign in sorted(set(yp) & set(new_signs)):
            bases = {way: m for way, m in {"own": vetoed[sign], "veto": vetoed[sign], "signs": base}.items()
                     if way in args.ways}
            base_pred = {way: model.predict(Xp, verbose=0).argmax(-1) for way, model in bases.items()}
            idx = np.flatnonzero(yp == sign)
            for k in KS:
                if len(idx) - k < 3:
                    continue
                test = np.setdiff1d(np.arange(len(yp)), np.concatenate([idx[:k], own]))  # own: used by "own" only
                known = test[np.isin(yp[test], actions)]
                other = test[~np.isin(yp[test], actions + [sign])]
                for way, built_on in bases.items():
                    start = time.perf_counter()
                    model, outs = enroll.add_signs(built_on, outputs, {sign: Xp[idx[:k]]}, seed=fold, progress=False,
                                                   own=Xp[own] if way == "own" and len(own) else None,
                                                   no_sign=config.NO_SIGN)
                    seconds = time.perf_counter() - start
                    if k == 8 and way == "own" and len(save_s) <= fold:  # saving + LiteRT conversion, once per fold
                        with tempfile.TemporaryDirectory() as tmp:
                            start = time.perf_counter()
                            M.save(model, Path(tmp) / "m.h5", outs, config.NO_SIGN)
                            predictor.export(Path(tmp) / "m.h5", Path(tmp) / "m.tflite")
                            save_s.append(time.perf_counter() - start)
                    pred = model.predict(Xp[test], verbose=0).argmax(-1)
                    truth = np.array([outs.index(a) if a in outs else -1 for a in yp[test]])
                    new = outs.index(sign)
                    kn = np.isin(test, known)
                    rows[way][k].append({
                        "recall": np.mean(pred[yp[test] == sign] == new),
                        "known": np.mean(pred[kn] == truth[kn]) if kn.any() else np.nan,
                        "known_base": np.mean(base_pred[way][known] == truth[kn]) if kn.any() else np.nan,
                        "false": np.mean(pred[np.isin(test, other)] == new) if len(other) else np.nan,
                        "seconds": seconds, "own": len(own) > 0})
                    r = rows[way][k][-1]
                    log(f"  {person[:40]:40} {sign:7} K={k} {way:5}: recall {r['recall']:.2f} known {r['known']:.2f} "
                        f"(base {r['known_base']:.2f}) false new {r['false']:.2f} {seconds:.1f} s")
                if k in tut:
                    signs = sorted(set(yp) & set(actions)) + [sign]
                    tr = np.concatenate([np.flatnonzero(yp == s)[:k] for s in signs])
                    net = tutorial(Xp[tr], np.array([signs.index(a) for a in yp[tr]]), len(signs),
                                   args.tutorial_epochs, fold)
                    test_t = np.setdiff1d(np.arange(len(yp)), tr)
                    pt = net.predict(Xp[test_t], verbose=0).argmax(-1)
                    kt = np.isin(yp[test_t], actions)
                    ot = ~np.isin(yp[test_t], actions + [sign])
                    tut[k].append({"recall": np.mean(pt[yp[test_t] == sign] == len(signs) - 1),
                                   "known": np.mean(pt[kt] == [signs.index(a) for a in yp[test_t][kt]]) if kt.any() else np.nan,
                                   "false": np.mean(pt[ot] == len(signs) - 1) if ot.any() else np.nan})
    return rows, tut, save_s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=3, help="folds by person over the people with other signs")
    parser.add_argument("--members", type=int, default=1, help="networks averaged in each base model")
    parser.add_argument("--epochs", type=int, default=20, help="base models: at most this many epochs")
    parser.add_argument("--tutorial-epochs", type=int, default=100, help="the tutorial's LSTM: epochs (it ran 2000)")
    parser.add_argument("--models", help="keep each fold's base and veto networks in this folder and reuse them "
                                         "in later runs with the same settings")
    parser.add_argument("--tutorial-k", type=int, nargs="*", default=[5], help="K values to run the tutorial's way for")
    parser.add_argument("--ways", nargs="+", choices=list(WAYS), default=list(WAYS), help="the ways of adding to run")
    args = parser.parse_args()

    ds, new_signs, people = load()
    del ds
    log(f"{len(people)} people with signs {new_signs}; {args.folds} folds, base models of {args.members} network(s), "
        f"at most {args.epochs} epochs")
    rows = {way: {k: [] for k in KS} for way in args.ways}
    tut = {k: [] for k in args.tutorial_k}
    save_s = []
    # One process per fold: memory TensorFlow and the fold's arrays hold is given back when it ends.
    spawn = multiprocessing.get_context("spawn")
    for fold, (_, te) in enumerate(GroupKFold(args.folds).split(people, groups=people)):
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            fold_rows, fold_tut, fold_save = pool.submit(run_fold, args, fold, people[te]).result()
        for way in args.ways:
            for k in KS:
                rows[way][k] += fold_rows[way][k]
        for k in tut:
            tut[k] += fold_tut[k]
        save_s += fold_save
        table(rows, tut, save_s, people, args, file=sys.stderr)  # so far: a run cut short still says something
    table(rows, tut, save_s, people, args)


if __name__ == "__main__":
    main()
