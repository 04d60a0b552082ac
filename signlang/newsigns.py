"""Where a new sign is, and how sure a window is to be it (the NewSigns layer of signlang.enroll's models).

A new sign is a prototype in an embedding (prototype): the mean of its augmented examples, a scale per
dimension (their variance, shrunk toward its mean by SHRINK) and a radius in those scaled units holding
RADIUS_SHARE of them. NewSigns turns a window's scaled distances to the prototypes into the new signs'
probabilities beside the model's own: inside a radius the window is that new sign, elsewhere the known signs
keep theirs. How far the radius reaches, and how much nearer a window must be to the new sign than to the
signer's own known signs, follows the model's confidence in one of its signs (UNSURE_GATE, OWN_GATE,
MARGINS; chosen by measurement, README "Your own sign").
"""

import keras
import numpy as np
from keras import layers, ops

RADIUS_SHARE = 95         # percent of a new sign's augmented examples inside its radius
SHRINK = 0.05             # share of the mean variance in each dimension's scale (a few examples: no zero scales)
SHARPNESS = 8.0           # how fast "inside" falls to "outside" at the radius
UNSURE_GATE = 3.0         # without the signer's own known signs: the radius (squared) widened up to this much
                          # where the model gives none of its signs (1x where it is sure of one)
OWN_GATE = 4.0            # with the signer's own known signs: the radius (squared) widened this much, and
MARGINS = (0.8, 1.3)      # ... a window must be this much nearer the new sign's examples than their known signs,
                          # from the first where the model gives none of its signs, to the second where it is sure of one
STILL = 1e-4              # the variance a part all examples hold still (no hand ever seen) is taken to have


@keras.saving.register_keras_serializable(package="signlang")
class NewSigns(layers.Layer):
    """[embedding (then the window's hand shapes if `hands`), known-sign probabilities] -> probabilities of the
    known signs, then of the new ones.

    d_j = sum((h - prototype_j)^2 / scale_j) / radius_j^2, inside_j = sigmoid(SHARPNESS * (1 - d_j / w)) (scales
    of ones: the Euclidean distance of models saved before there were scales); the new signs together take
    g = max_j inside_j, shared by closeness, and the known signs keep their probabilities times 1 - g.
    q is the highest probability the model gives one of its signs (the known columns `signs`; not "no sign").
    Without the signer's own recordings the radius widens where the model is unsure of its signs:
    w = 1 + (unsure_gate - 1) * (1 - q) (a new sign is mostly "no sign" to it, their hello is not).
    With them (`counter`: the augmented embeddings of their known signs and those of rest windows made from
    their recordings), w = gate and inside_j is multiplied by near_j = sigmoid(SHARPNESS * (log c_j -
    log(m * e_j))), e_j and c_j the scaled distances to the nearest of sign j's augmented examples
    (`examples`) and of the counter: a window of theirs that looks more like their own hello or their rest
    than like the new sign stays what it was. The margin m = lo + (hi - lo) * q of `margins` (lo, hi) grows
    with q: where the model is sure of a sign, the window must be clearly nearer the new one; where it is
    unsure, its own reading is likely wrong anyway. Models saved before there were margins read gate 2 and
    margins (1.2, 1.2), before the unsure gate 1.
    """

    def __init__(self, prototypes, radii, sharpness=SHARPNESS, scales=None, in_veto=False, examples=None, counter=None,
                 n_examples=0, n_counter=0, hands=False, gate=2.0, margins=(1.2, 1.2), signs=None, unsure_gate=1.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.in_veto = bool(in_veto)  # prototypes in the veto network's embedding (False: models saved before it)
        self.hands = bool(hands)  # ... followed by the window's HandShape (False: models saved before it)
        self.prototypes = np.asarray(prototypes, np.float32)
        self.radii = np.asarray(radii, np.float32)
        self.scales = np.ones_like(self.prototypes) if scales is None else np.asarray(scales, np.float32)
        self.sharpness = float(sharpness)
        self.gate, self.margins = float(gate), tuple(float(m) for m in margins)
        self.unsure_gate = float(unsure_gate)
        self.signs = None if signs is None else [int(j) for j in signs]  # known columns that are signs (None: all)
        # Weights, not config (too large for an HDF5 attribute); a loaded model gets them from the file.
        self._examples = None if examples is None else np.asarray(examples, np.float32)
        self._counter = None if counter is None else np.asarray(counter, np.float32)
        self.n_examples = int(n_examples if examples is None else self._examples.shape[1])
        self.n_counter = int(n_counter if counter is None else len(self._counter))

    @property
    def own(self):
        """Whether the signer's own known signs are in the model (the nearer-than rule is on)."""
        return self.n_counter > 0

    def build(self, shapes):
        dim = self.prototypes.shape[-1]
        if self.own:
            init = lambda a: "zeros" if a is None else keras.initializers.Constant(a)  # noqa: E731
            self.examples = self.add_weight(shape=(len(self.radii), self.n_examples, dim), trainable=False,
                                            initializer=init(self._examples), name="examples")
            self.counter = self.add_weight(shape=(self.n_counter, dim), trainable=False,
                                           initializer=init(self._counter), name="counter")

    def call(self, inputs):
        h, known = inputs
        d = ops.sum(ops.square(h[:, None, :] - self.prototypes[None]) / self.scales[None], axis=-1)
        d = d / ops.square(self.radii)[None]
        sure = ops.max(known if self.signs is None else ops.take(known, self.signs, axis=-1), axis=-1, keepdims=True)
        gate = self.gate if self.own else 1.0 + (self.unsure_gate - 1.0) * (1.0 - sure)
        inside = ops.sigmoid(self.sharpness * (1.0 - d / gate))
        if self.own:
            lo, hi = self.margins
            margin, near = lo + (hi - lo) * sure[:, 0], []
            for j in range(len(self.radii)):  # nearest example and nearest own known sign, in sign j's units
                nearest = [ops.min(_scaled_square(h, points, self.scales[j]), axis=-1) / self.radii[j] ** 2
                           for points in (self.examples[j], self.counter)]
                near.append(ops.log(nearest[1] + 1e-6) - ops.log(margin * nearest[0] + 1e-6))
            inside = inside * ops.sigmoid(self.sharpness * ops.stack(near, axis=-1))
        g = ops.max(inside, axis=-1, keepdims=True)
        close = ops.exp(ops.min(d, axis=-1, keepdims=True) - d)  # the new signs' shares (a softmax of -d)
        return ops.concatenate([known * (1.0 - g), g * close / ops.sum(close, axis=-1, keepdims=True)], axis=-1)

    def compute_output_shape(self, shapes):
        return shapes[1][:-1] + (shapes[1][-1] + len(self.radii),)

    def get_config(self):
        return {**super().get_config(), "prototypes": self.prototypes.tolist(), "radii": self.radii.tolist(),
                "sharpness": self.sharpness, "scales": self.scales.tolist(), "in_veto": self.in_veto,
                "n_examples": self.n_examples, "n_counter": self.n_counter, "hands": self.hands, "gate": self.gate,
                "margins": list(self.margins), "signs": self.signs, "unsure_gate": self.unsure_gate}


def _scaled_square(h, points, scale):
    """sum((h - p)^2 / scale) for each row of h and each point: (batch, points), from the differences (expanded
    into matrix products, large terms cancel where a scale is small, as for a hand-shape value the examples
    barely vary)."""
    return ops.sum(ops.square(h[:, None, :] - points[None]) / scale, axis=-1)


def prototype(embeddings, parts=None, share=RADIUS_SHARE, shrink=SHRINK):
    """A new sign's prototype (mean embedding), scales (shrunk variances) and radius (holding `share`
    percent of the embeddings).

    parts: [(dimensions, weight)] of the embedding's consecutive parts (default: one part). Each part's scales
    are shrunk toward its own mean and stretched so its distances are in units of its own radius, times the
    share of `weight` in the weights' sum.
    """
    parts = parts or [(embeddings.shape[1], 1.0)]
    centre, var = embeddings.mean(0), embeddings.var(0)
    total, scales, start = sum(w for _, w in parts), [], 0
    for n, weight in parts:
        part = slice(start, start + n)
        scale = (1 - shrink) * var[part] + shrink * max(var[part].mean(), STILL)
        squares = ((embeddings[:, part] - centre[part]) ** 2 / scale).sum(-1)
        scales.append(scale * max(np.percentile(squares, share), 1.0) * total / weight)
        start += n
    scale = np.concatenate(scales)
    return centre, scale, float(np.sqrt(np.percentile(((embeddings - centre) ** 2 / scale).sum(-1), share)))
