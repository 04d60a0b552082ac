"""`signlang train` / `signlang evaluate` end to end, signlang.evaluate, and the shipped action.h5, on real recordings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from signlang import cli, config, data, evaluate, model as M, train as training
from signlang.errors import SignlangError

ROOT = Path(__file__).resolve().parents[1]
SIGNERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "signers"
if not SIGNERS.is_dir():
    pytest.skip(f"real recordings not found at {SIGNERS} (the shared folder beside the repo)", allow_module_level=True)
ARCHIVES = sorted(SIGNERS.glob("*.npz.xz"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`signlang train` on three people for two epochs."""
    out = tmp_path_factory.mktemp("train")
    code = cli.main(["train", "--data", *map(str, ARCHIVES[3:6]), "--model", str(out / "action.h5"),
                     "--logdir", str(out / "Logs"), "--epochs", "2"])
    assert code == 0
    return out


def test_train_cli_writes_model_curve_and_tensorboard_run(trained):
    assert M.load_actions(trained / "action.h5") == list(config.ACTIONS)
    assert (trained / "action.png").read_bytes()[:4] == b"\x89PNG"
    runs = list((trained / "Logs").iterdir())
    assert len(runs) == 1 and list(runs[0].rglob("events.out.tfevents.*"))


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "signlang.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_evaluate_json_is_one_object_on_stdout(trained, tmp_path):
    out = run_cli("evaluate", "--data", ARCHIVES[6], ARCHIVES[7], "--model", trained / "action.h5", "--json",
                  "--plot", tmp_path / "cm.png")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)  # fails on anything but exactly one JSON document
    assert result["actions"] == list(config.ACTIONS)
    n = len(data.load(ARCHIVES[6:8], progress=False).y)
    confusion = np.array(result["confusion"])
    assert result["n"] == n and confusion.shape == (3, 3) and confusion.sum() == n
    assert result["accuracy"] == pytest.approx(np.trace(confusion) / n)
    assert np.array(result["multilabel_confusion"]).shape == (3, 2, 2)
    assert {"precision", "recall"} <= set(result["report"]["thanks"])
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_text_report_and_cli_errors(trained):
    ds = data.load(ARCHIVES[8], progress=False)
    result = evaluate.evaluate(trained / "action.h5", ds)
    text = evaluate.format_text(result)
    assert f"accuracy {result['accuracy']:.4f} on {len(ds.y)} sequences" in text
    assert "multilabel confusion" in text and "precision" in text and "iloveyou" in text
    out = run_cli("evaluate", "--data", ARCHIVES[8], "--model", trained / "nope.h5")
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
    train = four_signs(ARCHIVES[9:13])
    training.train(train, tmp_path / "four.h5", tmp_path / "Logs", epochs=3, verbose=0)
    assert M.load_actions(tmp_path / "four.h5") == ["hello", "thanks", "iloveyou", "olleh"]
    test = four_signs(ARCHIVES[13])
    result = evaluate.evaluate(tmp_path / "four.h5", test)
    assert np.array(result["confusion"]).shape == (4, 4) and result["n"] == len(test.y)
    subset = data.load(ARCHIVES[13], progress=False)
    keep = subset.y != "iloveyou"
    subset = data.Dataset(subset.X[keep], subset.y[keep], subset.groups[keep], ["hello", "thanks"])
    result = evaluate.evaluate(tmp_path / "four.h5", subset)
    assert result["n"] == keep.sum() and np.array(result["confusion"])[2:].sum() == 0


def test_tutorial_saved_model_evaluates(tmp_path):
    tutorial = M.build_model(3)
    tutorial.save(tmp_path / "action.h5")  # the notebook's way: no action names recorded
    ds = data.load(ARCHIVES[14], progress=False)
    result = evaluate.evaluate(tmp_path / "action.h5", ds)
    assert result["actions"] == list(config.ACTIONS) and result["n"] == len(ds.y) and 0 <= result["accuracy"] <= 1


def test_data_with_actions_the_model_does_not_know(trained):
    four = four_signs(ARCHIVES[15])
    with pytest.raises(SignlangError, match=r"data has actions \['olleh'\] the model does not know; model actions: "
                                            r"\['hello', 'thanks', 'iloveyou'\], data actions: .*'olleh'"):
        evaluate.evaluate(trained / "action.h5", four)


def test_shipped_model_recognises_real_signers():
    shipped = ROOT / config.MODEL_PATH
    assert shipped.is_file(), f"{shipped} is the shipped model; train it with `make model` (see README)"
    assert M.load_actions(shipped) == ["hello", "thanks", "iloveyou"]
    result = evaluate.evaluate(shipped, data.load([ARCHIVES[16], ARCHIVES[30]], progress=False))
    assert result["accuracy"] >= 0.95, result["groups"]


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
