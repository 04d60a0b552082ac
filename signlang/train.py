"""Training: grouped train/validation splits, Keras fit with early stopping and TensorBoard, several
networks averaged into one model, and the training curves.
"""

import sys
import time
from pathlib import Path

import keras
import numpy as np
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from signlang import config, context, nosign, veto
from signlang.atomic import atomic_path
from signlang.augment import Augmented
from signlang.errors import SignlangError
from signlang.model import average, build_model, build_recipe, save

# Early stopping keeps the shipped recipe's best epoch from here on: the validation loss of a few held-out
# people is noisy, and networks it stopped at epochs 5-13 did worse on new people (exploratory runs, 2 folds).
SHIPPED_START_FROM_EPOCH = 30


def split(y, groups, val_fraction=0.2, seed=0):
    """Train/validation indices that never put one group (person, MP_Data folder) on both sides.

    With a single group there is nothing to hold out by person, so the split is stratified by action.
    """
    idx = np.arange(len(y))
    if len(np.unique(groups)) < 2:
        print("signlang: one data group only: validation is a stratified split of its sequences "
              "(the same person is in train and validation)", file=sys.stderr)
        return train_test_split(idx, test_size=val_fraction, stratify=y, random_state=seed)
    return next(GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed).split(idx, y, groups))


def fit(model, X, Y, validation, epochs, batch_size=64, augmented=True, patience=config.PATIENCE, callbacks=(), verbose=1,
        seed=0, start_from_epoch=0):
    """Keras fit with early stopping on the validation loss, best weights restored (chosen from
    start_from_epoch on)."""
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True,
                                         start_from_epoch=start_from_epoch, verbose=min(verbose, 1))
    data = Augmented(X, Y, batch_size, seed) if augmented else X
    try:
        return model.fit(data, None if augmented else Y, batch_size=None if augmented else batch_size,
                         epochs=epochs, validation_data=validation, callbacks=[stop, *callbacks], verbose=verbose)
    finally:
        if augmented:  # TensorFlow keeps the generator of each fit alive: without this, every fit kept its data
            data.release()


def examples(data, actions=None, no_sign=True, seed=0):
    """The training examples of a data.Dataset: (X, labels, groups, outputs).

    outputs are the model's output names: the signs (`actions`, default the data's), then config.NO_SIGN
    when no_sign is on. Its examples are the data's own NO_SIGN recordings and windows of rest and of sign
    onsets and offsets cut from each group's sign recordings (signlang.nosign); with it come sign windows
    holding the edge of another sign of the same group (signlang.context), as in a run of signs. Sequences of actions
    outside `actions` are left out (and counted on stderr): taken as "no sign" examples, signs outside the
    vocabulary taught the model to answer "no sign" to the real signs of new people (README); the veto
    network learns them instead (`other_signs`, `train`).
    """
    signs = [a for a in (actions or data.actions) if a != config.NO_SIGN]
    if len(signs) < (1 if no_sign else 2):
        raise SignlangError(f"training needs at least {'one sign' if no_sign else 'two actions'}, the data has {signs}")
    outputs = signs + [config.NO_SIGN] if no_sign else signs
    missing = sorted(set(outputs) - set(data.y) - {config.NO_SIGN})
    if missing:
        raise SignlangError(f"no recordings of {missing} in the data (it has {data.actions})")
    left_out = sorted(set(data.y) - set(outputs))
    if left_out:
        print(f"signlang: left out: {', '.join(f'{a} ({np.sum(data.y == a)})' for a in left_out)}", file=sys.stderr)
    keep = np.isin(data.y, outputs)
    X, groups = data.X[keep], data.groups[keep]
    labels = np.array([outputs.index(a) for a in data.y[keep]])
    if no_sign:
        sign, rng = labels < len(signs), np.random.default_rng(seed)
        made, made_groups = nosign.windows(X[sign], groups[sign], rng)
        edges = context.windows(X[sign], labels[sign], groups[sign], rng)
        X, groups = np.concatenate([X, made, edges[0]]), np.concatenate([groups, made_groups, edges[2]])
        labels = np.concatenate([labels, np.full(len(made), len(signs)), edges[1]])
    return X, labels, groups, outputs


def other_signs(data, outputs):
    """The data's recordings of signs outside `outputs` (not "no sign"): (X, labels, groups, names), labels
    counting on from len(outputs), for the veto network (signlang.veto)."""
    names = [a for a in data.actions if a not in outputs and a != config.NO_SIGN]
    keep = np.isin(data.y, names)
    labels = np.array([len(outputs) + names.index(a) for a in data.y[keep]], dtype=int)
    return data.X[keep], labels, data.groups[keep], names


def train(data, model_path=config.MODEL_PATH, logdir=config.LOG_DIR, actions=None, recipe="shipped", members=None,
          epochs=config.EPOCHS, batch_size=64, patience=config.PATIENCE, val_fraction=0.2, seed=0, verbose=1,
          no_sign=True):
    """Trains on a data.Dataset; saves the model and its curve PNG. Returns (model, histories).

    recipe "shipped" is build_recipe with augmentation, "tutorial" the tutorial's LSTM on raw windows.
    members: networks averaged into the saved model (default config.MEMBERS for "shipped", 1 for "tutorial").
    no_sign: add the "no sign" output and its examples (see `examples`), and with the shipped recipe a veto
    network learnt from the data's other signs, if it has any (see `other_signs`).
    """
    if recipe not in ("shipped", "tutorial"):
        raise SignlangError(f"unknown recipe {recipe!r}: use 'shipped' or 'tutorial'")
    X, labels, groups, outputs = examples(data, actions, no_sign, seed)
    other = other_signs(data, outputs) if no_sign and recipe == "shipped" else None
    if other and other[3]:
        print(f"signlang: {', '.join(other[3])}: learnt by the veto network, which turns them into "
              f"'{config.NO_SIGN}'", file=sys.stderr)
    Y = np.eye(len(outputs), dtype=np.float32)[labels]
    model, histories = fit_members(X, Y, groups, recipe, members, epochs, batch_size, patience, val_fraction, seed,
                                   Path(logdir) / time.strftime("%Y%m%d-%H%M%S"), verbose, other)
    save(model, model_path, outputs, config.NO_SIGN if no_sign else None)
    plot_history(histories, Path(model_path).with_suffix(".png"))
    return model, histories


def fit_members(X, Y, groups, recipe="shipped", members=None, epochs=config.EPOCHS, batch_size=64, patience=config.PATIENCE,
                val_fraction=0.2, seed=0, logdir=None, verbose=1, other=None):
    """Trains `members` networks, each on its own by-group split, and averages them into one model; with
    `other` (other_signs' recordings) and the shipped recipe, a veto network (signlang.veto) overrules them.

    Each member holds out different people for early stopping, so together they have seen everyone. One
    network's accuracy on new people swings with its split and seed; their average is steadier
    (bench/unseen.py --members 1 against the default). Y's last column must be "no sign" when `other` is given.
    """
    members = members or (config.MEMBERS if recipe == "shipped" else 1)
    names = ["signlang"] if members == 1 else [f"member_{m + 1}" for m in range(members)]
    fitted = [_fit_net(X, Y, groups, recipe, name, epochs, batch_size, patience, val_fraction, seed + m, logdir, verbose)
              for m, name in enumerate(names)]
    nets, histories = [net for net, _ in fitted], [history for _, history in fitted]
    if other is None or not len(other[1]) or recipe != "shipped":
        return average(nets), histories
    net, history = fit_veto(X, Y, groups, other, epochs, batch_size, patience, val_fraction, seed, logdir, verbose)
    return average(nets, net, Y.shape[1] - 1), histories + [history]


def fit_veto(X, Y, groups, other, epochs=config.EPOCHS, batch_size=64, patience=config.PATIENCE, val_fraction=0.2,
             seed=0, logdir=None, verbose=1):
    """The veto network (signlang.veto): the shipped recipe on the examples and `other` (other_signs'
    recordings), each other sign an output of its own, at most config.VETO_EPOCHS epochs: (network, History)."""
    Xo, labels, groups_o, hidden = other
    labels = np.concatenate([Y.argmax(-1), labels])
    return _fit_net(np.concatenate([X, Xo]), np.eye(Y.shape[1] + len(hidden), dtype=np.float32)[labels],
                    np.concatenate([groups, groups_o]), "shipped", veto.NAME, min(epochs, config.VETO_EPOCHS), batch_size,
                    patience, val_fraction, seed, logdir, verbose, head=veto.HEAD)


def _fit_net(X, Y, groups, recipe, name, epochs, batch_size, patience, val_fraction, seed, logdir, verbose,
             head="actions"):
    """One network of the recipe, fitted on a by-group split of its examples: (network, History)."""
    shipped = recipe == "shipped"
    tr, va = split(Y.argmax(-1), groups, val_fraction, seed)
    keras.utils.set_random_seed(seed)
    net = build_recipe(Y.shape[1], name=name, head=head) if shipped else build_model(Y.shape[1])
    log = [] if logdir is None else [keras.callbacks.TensorBoard(log_dir=str(Path(logdir) / name))]
    history = fit(net, X[tr], Y[tr], (X[va], Y[va]), epochs, batch_size, shipped, patience, log, verbose, seed,
                  SHIPPED_START_FROM_EPOCH if shipped else 0)
    return net, history


def plot_history(histories, path=None):
    """Loss and accuracy curves of one History or a list (one per member), as a matplotlib Figure.

    Saved as PNG when path is given. Built without pyplot, so it never switches a notebook's backend;
    a notebook shows the returned Figure.
    """
    from matplotlib.figure import Figure

    histories = histories if isinstance(histories, (list, tuple)) else [histories]
    fig = Figure(figsize=(9, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "categorical_accuracy")):
        for k, history in enumerate(histories):
            who = f"{history.model.name.replace('_', ' ')}: " if len(histories) > 1 else ""
            ax.plot(history.history[metric], color=f"C{k}", label=who + "train")
            ax.plot(history.history["val_" + metric], color=f"C{k}", linestyle="--",
                    label=who + "validation (unseen groups)")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=max(len(histories), 2),
               fontsize="small")
    if path is not None:
        with atomic_path(path, ".png") as tmp:  # a kill while saving leaves no half PNG
            fig.savefig(tmp, dpi=80)
    return fig
