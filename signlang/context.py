"""Sign windows at the edges of a run of signs, cut from a person's own sign recordings.

Live, the 30-frame window that holds a sign often also holds the last frames of the sign before it or the
first frames of the next one. Recordings are cut around one sign, so without these windows a network
learns that a window with any of another sign in it is that other sign: back to back, the next sign is
given late or not at all. Each window here is one of a person's sign sequences whose first or last 3-12
frames are replaced by the end or the start of another of their signs, labelled as the sign that fills
most of it. Measured on people left out (README "No sign"): fewer words lost in runs of signs, and fewer
false signs on clips of people not signing.
"""

import numpy as np

from signlang import config


def windows(X, labels, groups, rng, share=config.CONTEXT_SHARE, most=config.CONTEXT_FRAMES):
    """About share x len(X) windows (X, labels, groups) from sign sequences X (n, 30, 1662) with their
    labels, each from one group's (person's) two different signs; groups with one sign give none."""
    length = X.shape[1]
    made, made_labels, made_groups = [], [], []
    for group in np.unique(groups):
        own = np.flatnonzero(groups == group)
        if len(np.unique(labels[own])) < 2:
            continue
        for _ in range(int(round(share * len(own)))):
            a = rng.choice(own)
            b = rng.choice(own[labels[own] != labels[a]])
            k = int(rng.integers(3, most + 1))
            made.append(np.concatenate([X[a][k:], X[b][:k]]) if rng.random() < 0.5
                        else np.concatenate([X[b][-k:], X[a][:length - k]]))
            made_labels.append(labels[a])
            made_groups.append(group)
    if not made:
        return X[:0], labels[:0], groups[:0]
    return (np.stack(made).astype(X.dtype), np.array(made_labels, dtype=labels.dtype),
            np.array(made_groups, dtype=groups.dtype))
