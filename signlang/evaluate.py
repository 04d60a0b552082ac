"""How well a model file does on labelled data: accuracy, the tutorial's multilabel confusion matrices,
per-class precision/recall and a confusion-matrix plot; and, on a user's own labelled clips run through
the detector (`evaluate --videos`), the sentences, word error rate and false signs per minute."""

import os
import sys

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, multilabel_confusion_matrix

from signlang import config
from signlang.errors import SignlangError
from signlang.labels import Label, check_signs, read_labels
from signlang.model import check_input, load_actions, load_model


def evaluate(model_path, data, batch_size=256):
    """Scores the model in model_path on a data.Dataset; returns a JSON-ready dict.

    The data may use a subset of the model's actions; an action the model does not know is an error.
    `confusion` has one row per true action and one column per predicted action, in the model's order.
    """
    model = load_model(model_path)
    check_input(model, model_path, data.X.shape[1:])
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


# --- labelled clips through the detector (`signlang evaluate --videos`) --------------------------------

def edit_distance(a, b):
    """Levenshtein distance between two word lists: insertions, deletions and substitutions."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def evaluate_videos(labels, model_path, fps=config.FPS, threshold=config.THRESHOLD, progress=True):
    """Runs each labelled clip through the detector, as `signlang detect` does; returns a JSON-ready dict.

    labels: a CSV file or folder (read_labels), or a list of (clip path, expected signs). All of them are
    checked before the first clip runs. Per clip: file, expected, detected, exact, errors (word edit
    distance), seconds (the clip's length, from its frames' times). A clip that fails to open or decode gets
    `error`, detected None, seconds None, is not exact and counts all its expected words as errors. Overall:
    clips, exact (share), word_error_rate (total errors / expected words, None without expected words) and
    false_signs_per_minute (signs detected on clips expecting none / their minutes, None without such clips).
    """
    from tqdm import tqdm

    from signlang.detector import check_threshold
    from signlang.model import load_no_sign
    from signlang.predictor import load_predictor
    from signlang.realtime import run
    from signlang.sources import open_source

    check_threshold(threshold)
    if not fps > 0:
        raise SignlangError(f"--fps must be a positive number of frames a second, not {fps}")
    source = labels if isinstance(labels, (str, os.PathLike)) else None
    labels = read_labels(labels) if source is not None else [label if isinstance(label, Label) else Label(*label)
                                                               for label in labels]
    if not labels:
        raise SignlangError("no labelled clips to evaluate")
    check_signs(labels, load_actions(model_path), load_no_sign(model_path))
    predictor = load_predictor(model_path)
    clips = []
    for label in tqdm(labels, unit="clip", disable=not progress, file=sys.stderr):
        clip, expected = label
        entry = {"file": label.name, "expected": expected}
        try:
            summary = run(open_source(clip, fps), predictor, threshold, fps)
        except SignlangError as error:
            entry.update(detected=None, exact=False, errors=len(expected), seconds=None, error=str(error))
        else:
            detected = list(summary["sentence"])
            entry.update(detected=detected, exact=detected == expected, errors=edit_distance(expected, detected),
                         seconds=summary["seconds"])
        clips.append(entry)
    words = sum(len(c["expected"]) for c in clips)
    idle = [c for c in clips if not c["expected"] and c["detected"] is not None]
    idle_minutes = sum(c["seconds"] for c in idle) / 60
    false_signs = sum(len(c["detected"]) for c in idle)
    return {
        "model": str(model_path),
        "labels": None if source is None else str(source),
        "fps": fps,
        "threshold": threshold,
        "per_clip": clips,
        "clips": len(clips),
        "exact": sum(c["exact"] for c in clips) / len(clips),
        "words": words,
        "word_errors": sum(c["errors"] for c in clips),
        "word_error_rate": sum(c["errors"] for c in clips) / words if words else None,
        "idle_clips": len(idle),
        "idle_minutes": round(idle_minutes, 4),
        "false_signs": false_signs,
        "false_signs_per_minute": false_signs / idle_minutes if idle_minutes else None,
        "failed": sum("error" in c for c in clips),
    }


def format_videos_text(result):
    """The result of evaluate_videos as the readable report the CLI prints: one line per clip, then totals."""
    words = lambda signs: " ".join(signs) or "(none)"
    clips = result["per_clip"]
    file_width = max(len("clip"), *(len(c["file"]) for c in clips)) + 2
    expected_width = max(len("expected"), *(len(words(c["expected"])) for c in clips)) + 2
    detected_width = max(len("detected"), *(len(words(c["detected"] or [])) for c in clips)) + 2
    lines = [f"{'clip':<{file_width}}{'expected':<{expected_width}}detected"]
    for c in clips:
        if "error" in c:
            lines.append(f"{c['file']:<{file_width}}{words(c['expected']):<{expected_width}}error: {c['error']}")
            continue
        verdict = "ok" if c["exact"] else f"{c['errors']} word error{'s' * (c['errors'] != 1)}"
        lines.append(f"{c['file']:<{file_width}}{words(c['expected']):<{expected_width}}"
                     f"{words(c['detected']):<{detected_width}}{verdict}".rstrip())
    exact = sum(c["exact"] for c in clips)
    wer = ("n/a (no expected signs)" if result["word_error_rate"] is None else
           f"{result['word_error_rate']:.3f} ({result['word_errors']} word edit{'s' * (result['word_errors'] != 1)} "
           f"for {result['words']} expected word{'s' * (result['words'] != 1)})")
    false = ("n/a (no clip without signs)" if result["false_signs_per_minute"] is None else
             f"{result['false_signs_per_minute']:.2f} ({result['false_signs']} in {result['idle_minutes'] * 60:.1f} s "
             f"of {result['idle_clips']} clip{'s' * (result['idle_clips'] != 1)} without signs)")
    lines += ["", f"exactly right    {exact} of {result['clips']} clips ({result['exact']:.1%})",
              f"word error rate  {wer}", f"false signs/min  {false}"]
    if result["failed"]:
        lines.append(f"failed           {result['failed']} clip{'s' * (result['failed'] != 1)} could not be read")
    return "\n".join(lines)
