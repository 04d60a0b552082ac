"""Adding signs to a trained model from a few examples (`signlang add-sign`), and removing them again.

A network of the shipped recipe ends in a Dense softmax layer; its input, the 96 values before it, is
what the network learnt from many people about how a sign looks: a sign embedding. New signs live in the
embedding of the model's veto network (signlang.veto) when it has one: that network learnt other signs
(yes, no, please, ...) apart from the vocabulary, so its embedding tells signs apart that the sign networks
never had to; without one, in the sign networks' embeddings side by side. A new sign is a prototype there
(signlang.newsigns): the mean embedding of its examples, heavily augmented (signlang.augment), a scale per
dimension and a radius in those scaled units; with the signer's own known signs, the window's hand shapes
(signlang.features.HandShape, not learnt) sit beside the embedding, each part's distances in units of its own
radius (HAND_WEIGHT). A window inside a prototype's radius is that new sign; elsewhere the known
signs keep the probabilities the model gave them (after the veto). The layers below are not changed, so
no recordings of the known signs are needed. Chosen by measurement (bench/enroll.py, README "Your own
sign"): new output columns fitted on the embeddings against rest windows and replayed known-sign
embeddings took the known signs of the same person far more often; a scaled (diagonal Mahalanobis)
distance took other signs and the known signs less often than a plain Euclidean one at the same recall;
the veto network's embedding took the person's known signs and other signs less often than the sign
networks'; the signer's own recordings of the known signs took the drop of their known signs from 4.8 to
1.4 points at 5 examples (recall 78.5 -> 83.8 %); rest windows made from their recordings took one person's
idle windows read as a new sign from 14 to 6 %; the hand shapes beside the embedding took the drop of the
known signs from 1.5 to 0.7 points and recall from 82.7 to 84.3 % (an exploration on the same folds); a
margin that grows with the model's confidence in one of its signs (newsigns.MARGINS), with the radius widened
4x instead of 2x, took recall at 5 examples from 86.6 to 89.6 % for the same drop of 0.8 points; without own signs, a
radius that widens where the model gives none of its signs (newsigns.UNSURE_GATE) took those people's recall from 77
to 86 % (90.5 % over all cases).
"""

import sys

import keras
import numpy as np
from keras import layers, ops
from tqdm import tqdm

from signlang import config, nosign, veto
from signlang.augment import augment
from signlang.errors import SignlangError
from signlang.features import HAND_SHAPE_SIZE, HandShape
from signlang.layout import FRAME_SIZE
from signlang.newsigns import MARGINS, OWN_GATE, UNSURE_GATE, NewSigns, prototype

HEAD = "actions"          # the name of each sign network's final Dense layer (signlang.model.build_recipe)
MIN_EXAMPLES = 3          # examples a new sign needs at least
AUGMENTED = 256           # augmented windows per new sign
REST = 64                 # rest windows made from the signer's own recordings (signlang.nosign) among the counters
HAND_WEIGHT = 2.0         # the hand shapes' share of a distance (signlang.features.HandShape), the embedding's 1


def networks(model, path):
    """The networks whose last layer is a Dense named "actions": the model itself, or those it holds.

    A model without one (the tutorial's LSTM, whose layers are unnamed) has no embedding to build on.
    """
    nets = [model] if _head(model) else [layer for layer in model.layers if isinstance(layer, keras.Model) and _head(layer)]
    if not nets:
        raise SignlangError(f"{path}: has no sign embedding to add signs to (no final Dense layer named {HEAD!r}: "
                            "a model of the tutorial's kind); train one with `signlang train`, then add signs to it")
    return nets


def _head(net, name=HEAD):
    last = net.layers[-1] if net.layers else None
    return last if isinstance(last, layers.Dense) and last.name == name else None


def _new_signs(model):
    found = [layer for layer in model.layers if isinstance(layer, NewSigns)]
    return found[0] if found else None


def _both(net, head=HEAD):
    """net -> [its probabilities, its embedding (the input of its final layer `head`)], one model."""
    return keras.Model(net.inputs, [net.outputs[0], _head(net, head).input], name=net.name)


def embedder(nets, head=HEAD, hands=False):
    """raw windows -> the networks' embeddings side by side (the inputs of their final layers `head`), then
    the windows' hand shapes if `hands`."""
    inputs = keras.Input((config.SEQUENCE_LENGTH, FRAME_SIZE))
    parts = [keras.Model(net.inputs, _head(net, head).input)(inputs) for net in nets]
    parts += [HandShape()(inputs)] if hands else []
    return keras.Model(inputs, parts[0] if len(parts) == 1 else layers.Concatenate()(parts))


def space(model, path="model"):
    """Where the model's new signs live: (networks, their final layer's name, in_veto): the veto network's
    embedding if it has one, else the sign networks' (and for signs added before there was a choice)."""
    added, vetoed = _new_signs(model), veto.find(model)
    if vetoed is not None and (added is None or added.in_veto):
        return [vetoed[0]], veto.HEAD, True
    return networks(model, path), HEAD, False


def build(nets, added, vetoed=None, in_veto=False):
    """The model: the networks' averaged probabilities for the known signs (overruled by the veto network of
    `vetoed`, signlang.veto.find's), then the new signs' of `added` (NewSigns' arguments; none: {}), in the
    veto network's embedding when `in_veto`, else in the networks'."""
    inputs = keras.Input((config.SEQUENCE_LENGTH, FRAME_SIZE), name="keypoints")
    # Each network once, giving its probabilities and its embedding (so neither is computed twice).
    outs = [_both(net)(inputs) for net in nets]
    known = outs[0][0] if len(outs) == 1 else layers.Average(name="known")([p for p, _ in outs])
    if vetoed is not None:
        vetoing, h_veto = _both(vetoed[0], veto.HEAD)(inputs)
        known = veto.apply(known, vetoing, vetoed[1])
    if not len(added.get("radii", ())):
        return keras.Model(inputs, known, name="signlang")
    h = [h_veto] if in_veto else [e for _, e in outs]
    h += [HandShape(name="hand_shape")(inputs)] if added.get("hands") else []
    h = h[0] if len(h) == 1 else layers.Concatenate(name="embedding")(h)
    return keras.Model(inputs, NewSigns(**added, in_veto=in_veto, name="new_signs")([h, known]), name="signlang")


PER_SIGN = ("prototypes", "scales", "radii", "examples")  # NewSigns arguments with one entry per added sign


def _added(layer):
    """The NewSigns arguments of a model's added signs (lists; examples and counter None without own signs;
    hands None before the first; a model's first signs get this signlang's gate and margins)."""
    if layer is None:
        return {"prototypes": [], "scales": [], "radii": [], "examples": None, "counter": None, "hands": None,
                "gate": OWN_GATE, "margins": MARGINS, "signs": None, "unsure_gate": UNSURE_GATE}
    own = layer.own
    return {"prototypes": list(layer.prototypes), "scales": list(layer.scales), "radii": list(layer.radii),
            "examples": list(ops.convert_to_numpy(layer.examples)) if own else None,
            "counter": ops.convert_to_numpy(layer.counter) if own else None, "hands": layer.hands,
            "gate": layer.gate, "margins": layer.margins, "signs": layer.signs, "unsure_gate": layer.unsure_gate}


def add_signs(model, actions, examples, path="model", seed=0, progress=True, own=None, no_sign=None):
    """The model with the new signs of `examples` ({name: (n, 30, 1662) windows}) added after its actions.

    own: the signer's own recordings of the model's known signs ((n, 30, 1662) windows, or None): with them a
    window is a new sign only if nearer its examples than the signer's known signs and than rest windows made
    from their recordings (NewSigns); they replace those of an earlier add-sign. no_sign: the action that means
    "no sign", if any. Returns (new model, its actions). The model passed in is not changed.
    """
    nets = networks(model, path)
    check_names(examples, actions, path)
    old, (embedded, head, in_veto) = _new_signs(model), space(model, path)
    added, mine = _added(old), own is not None and len(own) > 0
    if added["hands"] is None:  # the first signs added: hand shapes beside the embedding with own signs (as measured)
        added["hands"] = mine
        added["signs"] = [j for j, a in enumerate(actions) if a != no_sign]
    embed = embedder(embedded, head, added["hands"])
    dims = embed.output.shape[-1]
    parts = [(dims - HAND_SHAPE_SIZE, 1.0), (HAND_SHAPE_SIZE, HAND_WEIGHT)] if added["hands"] else None
    rng = np.random.default_rng(seed)

    def augmented(X):  # the windows and augmented copies of them: AUGMENTED embeddings
        X = X[rng.permutation(len(X))[:AUGMENTED]]
        windows = np.concatenate([X, augment(X[rng.integers(0, len(X), AUGMENTED - len(X))], rng)])
        return embed.predict(windows, batch_size=512, verbose=0)

    if mine:
        theirs = np.concatenate([own, *examples.values()])
        rest, _ = nosign.windows(theirs, np.zeros(len(theirs), int), rng, share=REST / len(theirs))
        added["counter"] = np.concatenate([augmented(own), embed.predict(rest, batch_size=512, verbose=0)])
        if added["examples"] is None:  # signs added before without own signs: their prototype stands for them
            added["examples"] = [np.repeat(c[None], AUGMENTED, 0) for c in added["prototypes"]]
    for name, X in tqdm(examples.items(), unit="sign", desc="new signs", disable=not progress):
        embeddings = augmented(X)
        centre, scale, radius = prototype(embeddings, parts)
        added["prototypes"].append(centre)
        added["scales"].append(scale)
        added["radii"].append(radius)
        if added["examples"] is not None:
            added["examples"].append(embeddings)
    return build(nets, added, veto.find(model), in_veto), list(actions) + list(examples)


def _fewer(data_path, signs, n):
    """Whether data_path holds fewer than n recordings of any of the signs."""
    from pathlib import Path

    from signlang.collect import sequence_numbers
    return any(not (Path(data_path) / s).is_dir() or len(sequence_numbers(Path(data_path) / s)) < n for s in signs)


def check_names(names, actions, path):
    from signlang.collect import check_action
    for name in names:
        check_action(name)
        if name in actions:
            raise SignlangError(f"{path}: already has a sign named {name!r} (its signs: {', '.join(actions)}); "
                                f"pick another name, or remove it first with --remove {name}")


def _n_trained(added, actions):
    """How many of the actions the model was trained on: those before the signs of its NewSigns layer `added`."""
    return len(actions) - (len(added.radii) if added else 0)


def trained_signs(model, actions, no_sign=None):
    """The signs the model was trained on (not added by add-sign, not "no sign")."""
    return [a for a in actions[:_n_trained(_new_signs(model), actions)] if a != no_sign]


def remove_sign(model, actions, name, path="model"):
    """The model without the added sign `name`; returns (new model, its actions)."""
    added = _new_signs(model)
    n_known = _n_trained(added, actions)
    if name not in actions:
        raise SignlangError(f"{path}: has no sign named {name!r} (its signs: {', '.join(actions)})")
    if actions.index(name) < n_known:
        raise SignlangError(f"{path}: {name!r} is one of the signs the model was trained on; only signs added with "
                            "add-sign can be removed (train without it: signlang train --actions ...)")
    keep = [j for j in range(len(added.radii)) if actions[n_known + j] != name]
    kept = {key: [value[j] for j in keep] if key in PER_SIGN and value is not None else value
            for key, value in _added(added).items()}
    return build(networks(model, path), kept, veto.find(model), added.in_veto), [a for a in actions if a != name]


def add_sign_command(names, model_path, out, data_path=config.DATA_PATH, source=None, examples=config.ENROLL_EXAMPLES,
                     remove=None, fps=config.FPS, show=True, own_examples=config.OWN_EXAMPLES):
    """`signlang add-sign`: records (with `source`) or reads the examples of `names` in data_path, adds
    them to the model in model_path (or removes the added sign `remove`) and writes `out`, converted to
    LiteRT once so detection starts at once. The signer's own recordings of the model's signs in data_path
    (recorded with `source` too, own_examples of each, unless there) keep those signs theirs. The model file
    read is never written."""
    from pathlib import Path

    from signlang import collect, data, model as M, predictor
    from signlang.sources import has_display, is_camera

    if Path(out).resolve() == Path(model_path).resolve():
        raise SignlangError(f"{out}: is the model read (--model); write the new model to another file (--out)")
    if bool(names) == bool(remove):
        raise SignlangError("add-sign: give the names of new signs, or --remove NAME (not both)")
    model = M.load_model(model_path)
    M.check_input(model, model_path)
    actions, no_sign = M.load_actions(model_path, model), M.load_no_sign(model_path)
    if remove:
        new, new_actions = remove_sign(model, actions, remove, model_path)
    else:
        networks(model, model_path)  # bad models and names stop before any recording
        check_names(names, actions, model_path)
        trained = trained_signs(model, actions, no_sign)
        if source is not None:
            folders = collect.collect(names, examples, data_path=data_path, source=source, fps=fps,
                                      show=show and has_display())
            if own_examples and is_camera(source) and _fewer(data_path, trained, own_examples):  # a video cannot follow
                print(f"now sign each of {', '.join(trained)} {own_examples} times, your own way: so they are "
                      "not taken for the new signs", file=sys.stderr)
                folders += collect.collect(trained, own_examples, data_path=data_path, source=source, fps=fps,
                                           show=show and has_display())
            print(f"recorded {len(folders)} examples to {data_path}", file=sys.stderr)
        found = data.load(data_path, progress=False)
        examples_ = {n: found.X[found.y == n] for n in names}
        for name, X in examples_.items():
            if len(X) < MIN_EXAMPLES:
                raise SignlangError(f"{Path(data_path) / name}: {len(X)} example{'s' * (len(X) != 1)} of {name!r}, "
                                    f"a new sign needs at least {MIN_EXAMPLES}")
        own = found.X[np.isin(found.y, trained)]
        print(f"your own recordings of {', '.join(trained)}: {len(own)}" + ("" if len(own) else
              f" (record a few into {data_path}, e.g. signlang collect --actions {' '.join(trained)} --sequences 3: "
              "with them your own signs are less often taken for the new ones)"), file=sys.stderr)
        new, new_actions = add_signs(model, actions, examples_, model_path, own=own if len(own) else None,
                                     no_sign=no_sign)
    print(f"saving {out} and converting it for detection", file=sys.stderr)
    M.save(new, out, new_actions, no_sign)
    predictor.load_predictor(out)
    print(f"wrote {out}: {', '.join(new_actions)}")
