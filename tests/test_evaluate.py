"""`signlang train` / `signlang evaluate` end to end, signlang.evaluate, and the shipped action.h5, on real recordings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FULL_FACE, YES_NO, more_signs_archive, signer_archive
from signlang import cli, config, data, evaluate, model as M, train as training
from signlang.errors import SignlangError

ROOT = Path(__file__).resolve().parents[1]

# Distinct people (FULL_FACE, by name) for each role: the CLI model is evaluated on people it never saw,
# the four-sign model on a fifth person.
CLI_TRAINED = FULL_FACE[0:3]
CLI_UNSEEN_JSON = FULL_FACE[3:5]
CLI_UNSEEN_TEXT = FULL_FACE[5]
FOUR_TRAINED = FULL_FACE[6:10]
FOUR_UNSEEN = FULL_FACE[10]
TUTORIAL_DATA = FULL_FACE[11]
UNKNOWN_ACTIONS = FULL_FACE[12]
SHIPPED_CHECK = FULL_FACE[13:16]


def archives(*names):
    return [signer_archive(name) for name in names]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`signlang train` on three people for two epochs, with the defaults (a 'no sign' output)."""
    out = tmp_path_factory.mktemp("train")
    code = cli.main(["train", "--data", *map(str, archives(*CLI_TRAINED)), "--model", str(out / "action.h5"),
                     "--logdir", str(out / "Logs"), "--epochs", "2"])
    assert code == 0
    return out


def test_train_cli_writes_model_curve_and_tensorboard_run(trained):
    """By default the model has the signs of the data and then the 'no sign' output, recorded in the file."""
    assert M.load_actions(trained / "action.h5") == [*config.ACTIONS, config.NO_SIGN] == [
        "hello", "thanks", "iloveyou", "idle"]
    assert M.load_no_sign(trained / "action.h5") == "idle"
    assert M.load_model(trained / "action.h5").output_shape == (None, 4)
    assert (trained / "action.png").read_bytes()[:4] == b"\x89PNG"
    runs = list((trained / "Logs").iterdir())
    assert len(runs) == 1 and list(runs[0].rglob("events.out.tfevents.*"))


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "signlang.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_train_cli_no_idle_is_the_tutorial_style_model(tmp_path):
    """--no-idle: exactly the data's actions, no 'no sign' output recorded."""
    code = cli.main(["train", "--data", *map(str, archives(*CLI_TRAINED[:2])), "--no-idle", "--model",
                     str(tmp_path / "action.h5"), "--logdir", str(tmp_path / "Logs"), "--epochs", "2",
                     "--members", "1"])
    assert code == 0
    assert M.load_actions(tmp_path / "action.h5") == list(config.ACTIONS)
    assert M.load_no_sign(tmp_path / "action.h5") is None
    assert M.load_model(tmp_path / "action.h5").output_shape == (None, 3)


def test_train_cli_actions_leave_other_signs_out(tmp_path, capsys):
    """--actions hello thanks iloveyou on data that also holds yes and no: those are left out and counted
    on stderr, with or without the 'no sign' output."""
    paths = [signer_archive(YES_NO), more_signs_archive(YES_NO), signer_archive(CLI_TRAINED[0])]
    assert set(data.load(paths, progress=False).y) == {"hello", "thanks", "iloveyou", "yes", "no"}
    args = ["train", "--data", *map(str, paths), "--actions", "hello", "thanks", "iloveyou", "--logdir",
            tmp_path / "Logs", "--epochs", "2", "--members", "1"]
    assert cli.main([*map(str, args), "--model", str(tmp_path / "action.h5")]) == 0
    assert "left out: no (30), yes (30)" in capsys.readouterr().err
    assert M.load_actions(tmp_path / "action.h5") == ["hello", "thanks", "iloveyou", "idle"]
    assert M.load_no_sign(tmp_path / "action.h5") == "idle"

    assert cli.main([*map(str, args), "--no-idle", "--model", str(tmp_path / "plain.h5")]) == 0
    assert "left out: no (30), yes (30)" in capsys.readouterr().err
    assert M.load_actions(tmp_path / "plain.h5") == list(config.ACTIONS)
    assert M.load_no_sign(tmp_path / "plain.h5") is None


def test_evaluate_json_is_one_object_on_stdout(trained, tmp_path):
    out = run_cli("evaluate", "--data", *archives(*CLI_UNSEEN_JSON), "--model", trained / "action.h5", "--json",
                  "--plot", tmp_path / "cm.png")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)  # fails on anything but exactly one JSON document
    assert result["actions"] == [*config.ACTIONS, config.NO_SIGN]
    n = len(data.load(archives(*CLI_UNSEEN_JSON), progress=False).y)
    confusion = np.array(result["confusion"])
    assert result["n"] == n and confusion.shape == (4, 4) and confusion.sum() == n
    assert confusion[3].sum() == 0  # no 'no sign' recordings in this data: an empty row, a column of misses
    assert sorted(result["groups"]) == sorted(CLI_UNSEEN_JSON)
    assert result["accuracy"] == pytest.approx(np.trace(confusion) / n)
    assert np.array(result["multilabel_confusion"]).shape == (4, 2, 2)
    assert {"precision", "recall"} <= set(result["report"]["thanks"])
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_text_report_and_cli_errors(trained):
    ds = data.load(signer_archive(CLI_UNSEEN_TEXT), progress=False)
    result = evaluate.evaluate(trained / "action.h5", ds)
    text = evaluate.format_text(result)
    assert f"accuracy {result['accuracy']:.4f} on {len(ds.y)} sequences" in text
    assert "multilabel confusion" in text and "precision" in text and "iloveyou" in text and "idle" in text
    out = run_cli("evaluate", "--data", signer_archive(CLI_UNSEEN_TEXT), "--model", trained / "nope.h5")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines()[-1] == f"signlang: error: {trained / 'nope.h5'}: no such model file"


def four_signs(paths):
    """Real recordings with a fourth sign: 'hello' played backwards (a different motion, same hand shape)."""
    ds = data.load(paths, progress=False)
    hello = ds.y == "hello"
    X = np.concatenate([ds.X, ds.X[hello][:, ::-1]])
    y = np.concatenate([ds.y, np.full(hello.sum(), "olleh")])
    groups = np.concatenate([ds.groups, ds.groups[hello]])
    return data.Dataset(X, y, groups, data.order_actions(set(y)))


def test_four_sign_model_trains_saves_and_evaluates_on_subsets(tmp_path):
    train = four_signs(archives(*FOUR_TRAINED))
    training.train(train, tmp_path / "four.h5", tmp_path / "Logs", epochs=3, verbose=0)
    assert M.load_actions(tmp_path / "four.h5") == ["hello", "thanks", "iloveyou", "olleh", "idle"]
    test = four_signs(signer_archive(FOUR_UNSEEN))
    result = evaluate.evaluate(tmp_path / "four.h5", test)
    assert np.array(result["confusion"]).shape == (5, 5) and result["n"] == len(test.y)
    subset = data.load(signer_archive(FOUR_UNSEEN), progress=False)
    keep = subset.y != "iloveyou"
    subset = data.Dataset(subset.X[keep], subset.y[keep], subset.groups[keep], ["hello", "thanks"])
    result = evaluate.evaluate(tmp_path / "four.h5", subset)
    assert result["n"] == keep.sum() and np.array(result["confusion"])[2:].sum() == 0


def test_tutorial_saved_model_evaluates(tmp_path):
    tutorial = M.build_model(3)
    tutorial.save(tmp_path / "action.h5")  # the notebook's way: no action names recorded
    ds = data.load(signer_archive(TUTORIAL_DATA), progress=False)
    result = evaluate.evaluate(tmp_path / "action.h5", ds)
    assert result["actions"] == list(config.ACTIONS) and result["n"] == len(ds.y) and 0 <= result["accuracy"] <= 1


def test_data_with_actions_the_model_does_not_know(trained):
    four = four_signs(signer_archive(UNKNOWN_ACTIONS))
    with pytest.raises(SignlangError, match=r"data has actions \['olleh'\] the model does not know; model actions: "
                                            r"\['hello', 'thanks', 'iloveyou', 'idle'\], data actions: .*'olleh'"):
        evaluate.evaluate(trained / "action.h5", four)


def test_shipped_model_recognises_real_signers():
    """The shipped model (with or without a 'no sign' output) on clearly signed recordings of 'full' people."""
    signed = data.load(archives(*SHIPPED_CHECK), progress=False)
    shipped = ROOT / config.MODEL_PATH
    assert shipped.is_file(), f"{shipped} is the shipped model; train it with `make model` (see README)"
    no_sign = M.load_no_sign(shipped)
    assert M.load_actions(shipped) == [*config.ACTIONS, *([no_sign] if no_sign else [])]
    assert no_sign in (None, config.NO_SIGN)
    result = evaluate.evaluate(shipped, signed)
    assert result["n"] == 270 and result["accuracy"] >= 0.9, result["groups"]


def test_plots_return_figures_and_leave_the_backend_alone(tmp_path):
    """A notebook's inline backend must survive the plots: they are built without pyplot."""
    code = f"""
import matplotlib, types
matplotlib.use("svg")
from signlang import evaluate, train
result = {{"confusion": [[3, 1], [0, 4]], "actions": ["hello", "thanks"], "accuracy": 0.875, "n": 8}}
history = types.SimpleNamespace(history={{k: [1.0, 0.5] for k in
    ("loss", "val_loss", "categorical_accuracy", "val_categorical_accuracy")}})
figures = [evaluate.plot_confusion(result, {str(tmp_path / "cm.png")!r}), train.plot_history(history)]
print(matplotlib.get_backend(), [type(f).__name__ for f in figures])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={k: v for k, v in os.environ.items() if k != "MPLBACKEND"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["svg", "['Figure',", "'Figure']"]
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"
