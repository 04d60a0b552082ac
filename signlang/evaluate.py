"""How well a model file does on labelled data: accuracy, the tutorial's multilabel confusion matrices,
per-class precision/recall and a confusion-matrix plot."""

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, multilabel_confusion_matrix

from signlang.errors import SignlangError
from signlang.model import load_actions, load_model


def evaluate(model_path, data, batch_size=256):
    """Scores the model in model_path on a data.Dataset; returns a JSON-ready dict.

    The data may use a subset of the model's actions; an action the model does not know is an error.
    `confusion` has one row per true action and one column per predicted action, in the model's order.
    """
    model = load_model(model_path)
    actions = load_actions(model_path, model)
    unknown = sorted(set(data.y) - set(actions))
    if unknown:
        raise SignlangError(f"{model_path}: data has actions {unknown} the model does not know; "
                            f"model actions: {actions}, data actions: {data.actions}")
    truth = np.array([actions.index(a) for a in data.y])
    predicted = model.predict(data.X, batch_size=batch_size, verbose=0).argmax(axis=-1)
    labels = list(range(len(actions)))
    return {
        "model": str(model_path),
        "n": int(len(truth)),
        "actions": actions,
        "accuracy": float(accuracy_score(truth, predicted)),
        "confusion": confusion_matrix(truth, predicted, labels=labels).tolist(),
        # The tutorial's view: one 2x2 [[tn, fp], [fn, tp]] matrix per action.
        "multilabel_confusion": multilabel_confusion_matrix(truth, predicted, labels=labels).tolist(),
        "report": classification_report(truth, predicted, labels=labels, target_names=actions,
                                        output_dict=True, zero_division=0),
        "groups": {str(g): float(accuracy_score(truth[data.groups == g], predicted[data.groups == g]))
                   for g in np.unique(data.groups)},
        "skipped": len(data.skipped),
    }


def format_text(result):
    """The result as the human-readable report the CLI prints."""
    actions = result["actions"]
    width = max(len(a) for a in actions) + 2
    lines = [f"accuracy {result['accuracy']:.4f} on {result['n']} sequences ({result['model']})", "",
             "confusion (rows = true, columns = predicted):",
             " " * width + "".join(f"{a:>{width}}" for a in actions)]
    lines += [f"{a:<{width}}" + "".join(f"{v:>{width}}" for v in row) for a, row in zip(actions, result["confusion"])]
    lines += ["", "multilabel confusion matrices [[tn, fp], [fn, tp]]:"]
    lines += [f"  {a:<{width}}{m}" for a, m in zip(actions, result["multilabel_confusion"])]
    lines += ["", "per class:", f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    lines += [f"{a:<{width}}" + "".join(f"{result['report'][a][k]:>10.3f}" for k in ("precision", "recall", "f1-score"))
              + f"{result['report'][a]['support']:>10.0f}" for a in actions]
    if len(result["groups"]) > 1:
        worst = sorted(result["groups"].items(), key=lambda kv: kv[1])[:5]
        lines += ["", "lowest accuracy by group:"] + [f"  {acc:.4f}  {g}" for g, acc in worst]
    return "\n".join(lines)


def plot_confusion(result, path=None):
    """The confusion matrix (counts, rows = true action) as a matplotlib Figure, saved as PNG when path is given.

    Built without pyplot, so it never switches a notebook's backend; a notebook shows the returned Figure.
    """
    from matplotlib.figure import Figure

    matrix, actions = np.array(result["confusion"]), result["actions"]
    size = 1.2 + 0.9 * len(actions)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(actions)), actions, rotation=45, ha="right")
    ax.set_yticks(range(len(actions)), actions)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {result['accuracy']:.3f} (n={result['n']})")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
