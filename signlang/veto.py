"""The veto: a second network that knows signs outside the vocabulary, turning them into "no sign".

The sign networks never see other signs (yes, no, please, ...): taught as "no sign", those examples made them
answer "no sign" to the real signs of new people too (README, "No sign"). The veto network is one more network
of the same recipe that learns the vocabulary, "no sign" and each other sign as an output of its own. Only
where it is all but sure a window is another sign does it overrule the sign networks: with h its summed
probability of the other signs, v = clip((h - TAU) / (1 - TAU), 0, 1) moves that share of every sign's
probability to "no sign". On people left out (3 folds) that cut the other-sign recordings giving a false
sign from 57-80 % to 23-32 %, accuracy on the vocabulary within 0.2 points (README).
"""

import keras
import numpy as np
from keras import layers, ops

NAME = "veto"         # the veto network's name inside a model
HEAD = "all_signs"    # its softmax layer: not "actions", so add-sign does not take it for a sign network
TAU = 0.99            # the other signs' summed probability from which the veto starts to act


@keras.saving.register_keras_serializable(package="signlang")
class Veto(layers.Layer):
    """[probabilities, the veto network's probabilities] -> probabilities with vetoed windows as "no sign".

    The veto network's first outputs are those of the probabilities, the rest other signs; no_sign is the
    index of the "no sign" output.
    """

    def __init__(self, no_sign, tau=TAU, **kwargs):
        super().__init__(**kwargs)
        self.no_sign, self.tau = int(no_sign), float(tau)

    def call(self, inputs):
        p, q = inputs
        n = p.shape[-1]
        h = ops.sum(q[:, n:], axis=-1, keepdims=True)
        v = ops.clip((h - self.tau) / (1.0 - self.tau), 0.0, 1.0)
        return p * (1.0 - v) + v * np.eye(n, dtype="float32")[self.no_sign]

    def compute_output_shape(self, shapes):
        return shapes[0]

    def get_config(self):
        return {**super().get_config(), "no_sign": self.no_sign, "tau": self.tau}


def apply(probabilities, vetoing, no_sign):
    """The probabilities with the veto network's probabilities `vetoing` (of the same inputs) applied."""
    return Veto(no_sign, name="veto_other_signs")([probabilities, vetoing])


def find(model):
    """The veto network of a model and its "no sign" index, or None."""
    nets = [layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name == NAME]
    vetoes = [layer for layer in model.layers if isinstance(layer, Veto)]
    return (nets[0], vetoes[0].no_sign) if nets and vetoes else None
