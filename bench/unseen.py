"""Accuracy on people the model never saw: grouped k-fold over the shared signers (one group per person).

  (a) the tutorial recipe (its LSTM on raw keypoints, no validation) trained on ONE person of the training folds
  (b) the tutorial architecture trained on all the training folds' people (grouped validation, early stopping)
  (c) the shipped recipe (signlang.train.train's: Normalize layer, augmentation, conv net, 3 networks averaged)

    .venv/bin/python bench/unseen.py                      # all three, 6 folds (about 1.5 hours on 2 cores)
    .venv/bin/python bench/unseen.py --only c --folds 3   # quicker
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

from signlang import config, data, model as M, train  # noqa: E402

SIGNERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "signers"


def recipe_a(X, Y, groups, args, fold):
    """The tutorial: its LSTM, trained on one person for a fixed number of epochs, no validation."""
    people = np.unique(groups)
    one = groups == people[fold % len(people)]
    model = M.build_model(Y.shape[1])
    model.fit(X[one], Y[one], epochs=args.one_person_epochs, batch_size=32, verbose=0)
    return model


def recipe_b(X, Y, groups, args, fold):
    return train.fit_members(X, Y, groups, "tutorial", 1, args.tutorial_epochs, patience=args.patience, seed=fold,
                             verbose=0)[0]


def recipe_c(X, Y, groups, args, fold):
    return train.fit_members(X, Y, groups, "shipped", args.members, args.epochs, patience=args.patience,
                             seed=10 * fold, verbose=0)[0]


RECIPES = {"a": ("tutorial recipe, one person", recipe_a),
           "b": ("tutorial architecture, all people", recipe_b),
           "c": ("shipped recipe", recipe_c)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=[str(SIGNERS)], help="archives (one person each)")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--only", default="abc", help="which recipes to run, e.g. 'c' or 'ac'")
    parser.add_argument("--epochs", type=int, default=150, help="(c): at most this many epochs")
    parser.add_argument("--members", type=int, default=config.MEMBERS, help="(c): networks averaged")
    parser.add_argument("--one-person-epochs", type=int, default=200, help="(a): epochs (the notebook ran 2000)")
    parser.add_argument("--tutorial-epochs", type=int, default=30, help="(b): at most this many epochs")
    parser.add_argument("--patience", type=int, default=25, help="(b), (c): early-stopping patience")
    args = parser.parse_args()

    ds = data.load(args.data)
    labels = np.array([ds.actions.index(a) for a in ds.y])
    Y = np.eye(len(ds.actions), dtype=np.float32)[labels]
    folds = list(GroupKFold(args.folds).split(ds.X, labels, ds.groups))
    print(f"{len(labels)} sequences, {len(np.unique(ds.groups))} people, {args.folds} folds (people held out)",
          file=sys.stderr)
    print(f"{'':4}{'recipe':<36}{'accuracy':>9}{'worst person':>14}{'time':>9}")
    for key in args.only:
        name, recipe = RECIPES[key]
        correct, per_person, start = 0, [], time.time()
        for fold, (tr, te) in enumerate(folds):
            keras.utils.set_random_seed(fold)
            model = recipe(ds.X[tr], Y[tr], ds.groups[tr], args, fold)
            hit = model.predict(ds.X[te], verbose=0).argmax(-1) == labels[te]
            correct += hit.sum()
            per_person += [hit[ds.groups[te] == g].mean() for g in np.unique(ds.groups[te])]
            print(f"({key}) fold {fold + 1}/{args.folds}: {hit.mean():.4f}", file=sys.stderr, flush=True)
        # One row as soon as a recipe is done: the slow tutorial runs need not finish to read the others.
        print(f"({key}) {name:<36}{correct / len(labels):>9.4f}{min(per_person):>14.4f}{time.time() - start:>8.0f}s",
              flush=True)


if __name__ == "__main__":
    main()
