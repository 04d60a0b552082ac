"""signlang add-sign: new signs from MP_Data folders and from a clip, --remove, and its errors (real data,
real MediaPipe and TensorFlow; the shipped action.h5 as the model built on)."""

import hashlib
import json

import numpy as np
import pytest
from conftest import ROOT, VIDEOS, more_signs_archive, need, read_video, run_cli, signer_archive, write_video

from signlang import cli, collect, config, data, enroll
from signlang.model import build_model, load_actions, load_model, save

BASE = ROOT / "action.h5"
# more_signs: 30 recordings each of yes, no, please, help and sorry, none of them signs of action.h5.
PERSON = "Claira27__sign_language_action_recognition"
OTHER_SIGN_CLIP = "sign-language-processing__pose__test_video.mp4"  # one sign outside the vocabulary


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def person():
    return data.load(more_signs_archive(PERSON), progress=False)


def folders(root, X, name="please"):
    for window in X:
        collect.write_sequence(root / "MP_Data" / name, window)
    return root / "MP_Data"


def add_sign(*args):
    return cli.main(["add-sign", *map(str, args)])


def test_add_sign_from_folders_then_remove(tmp_path, person):
    please = person.X[person.y == "please"]
    mp_data = folders(tmp_path, please[:8])
    before = digest(BASE)
    assert add_sign("please", "--model", BASE, "--out", tmp_path / "my.h5", "--data", mp_data) == 0
    assert digest(BASE) == before  # the old model is never changed
    model = load_model(tmp_path / "my.h5")
    actions = load_actions(tmp_path / "my.h5", model)
    assert actions == [*load_actions(BASE), "please"]
    new = model.predict(please[8:], verbose=0).argmax(-1) == actions.index("please")
    assert new.mean() >= 0.8, f"the new sign recognised in {new.mean():.0%} of the other recordings"

    assert add_sign("--remove", "please", "--model", tmp_path / "my.h5", "--out", tmp_path / "back.h5") == 0
    assert load_actions(tmp_path / "back.h5") == load_actions(BASE)
    np.testing.assert_allclose(load_model(tmp_path / "back.h5").predict(please, verbose=0),
                               load_model(BASE).predict(please, verbose=0), atol=1e-5)


def test_add_sign_with_own_known_signs(tmp_path, person, capsys):
    """The person's own hello / thanks / iloveyou in MP_Data go into the model, with rest windows made from their
    recordings: their new sign is still found, their other recordings of the known signs stay known signs."""
    please = person.X[person.y == "please"]
    known = data.load(signer_archive(PERSON), progress=False)
    mp_data = folders(tmp_path, please[:5])
    own = np.concatenate([np.flatnonzero(known.y == a)[:config.OWN_EXAMPLES] for a in config.ACTIONS])
    for i in own:
        folders(tmp_path, known.X[i:i + 1], known.y[i])
    assert add_sign("please", "--model", BASE, "--out", tmp_path / "my.h5", "--data", mp_data) == 0
    assert f"your own recordings of hello, thanks, iloveyou: {len(own)}" in capsys.readouterr().err
    model = load_model(tmp_path / "my.h5")
    actions = load_actions(tmp_path / "my.h5", model)
    added = [layer for layer in model.layers if layer.name == "new_signs"][0]
    assert added.own and added.n_counter == enroll.AUGMENTED + enroll.REST  # their known signs, and their rest
    assert added.hands  # their hand shapes beside the embedding
    new = model.predict(please[5:], verbose=0).argmax(-1) == actions.index("please")
    assert new.mean() >= 0.8, f"the new sign recognised in {new.mean():.0%} of the other recordings"
    rest = np.setdiff1d(np.arange(len(known.y)), own)
    taken = model.predict(known.X[rest], verbose=0).argmax(-1) == actions.index("please")
    assert taken.mean() <= 0.05, f"{taken.mean():.0%} of the person's known signs taken for the new one"

    folders(tmp_path, person.X[person.y == "yes"][:5], "yes")  # a second sign, then the first removed
    assert add_sign("yes", "--model", tmp_path / "my.h5", "--out", tmp_path / "two.h5", "--data", mp_data) == 0
    assert add_sign("--remove", "please", "--model", tmp_path / "two.h5", "--out", tmp_path / "yes.h5") == 0
    yes = load_model(tmp_path / "yes.h5")
    assert [layer for layer in yes.layers if layer.name == "new_signs"][0].own
    assert load_actions(tmp_path / "yes.h5", yes) == [*load_actions(BASE), "yes"]


def test_add_sign_from_a_clip_then_detect(tmp_path):
    """The guided recording (collect) from a video: the shared clip of a sign outside the vocabulary, played
    4 times (one play gives one 30-frame recording); the new model finds that sign in the clip itself."""
    clip = need(VIDEOS) / OTHER_SIGN_CLIP
    frames, fps = read_video(clip)
    write_video(tmp_path / "again.mp4", frames * 4, fps)
    run_cli("add-sign", "wiggle", "--model", BASE, "--out", tmp_path / "w.h5", "--data", tmp_path / "MP_Data",
            "--source", tmp_path / "again.mp4", "--examples", 3, "--no-window")
    assert len(list((tmp_path / "MP_Data" / "wiggle").iterdir())) == 3  # the recordings are kept
    lines = run_cli("detect", "--source", clip, "--model", tmp_path / "w.h5", "--json", "--no-window").stdout.splitlines()
    assert json.loads(lines[-1])["sentence"] == ["wiggle"]


def test_errors(tmp_path, person, capsys):
    mp_data = folders(tmp_path, person.X[person.y == "please"][:2])
    tutorial = tmp_path / "tutorial.h5"
    save(build_model(len(config.ACTIONS)), tutorial, config.ACTIONS)
    cases = [(("hello", "--model", BASE), "already has a sign named 'hello'"),
             (("please", "--model", BASE), "2 examples of 'please', a new sign needs at least 3"),
             (("please", "--model", tutorial), "signlang train"),
             (("--remove", "hello", "--model", BASE), "only signs added with add-sign can be removed"),
             (("please", "--model", BASE, "--out", BASE), "write the new model to another file")]
    for args, message in cases:
        out = () if "--out" in args else ("--out", tmp_path / "out.h5")
        assert add_sign(*args, *out, "--data", mp_data) == 2
        err = capsys.readouterr().err
        assert err.startswith("signlang: error: ") and message in err, err
        assert not (tmp_path / "out.h5").exists()


def test_the_radius_is_in_units_of_each_dimensions_spread():
    """Examples spread along one dimension and steady along another: a window as far from the prototype
    as the spread allows is the new sign along the first and not along the second."""
    from signlang.newsigns import NewSigns, prototype

    rng = np.random.default_rng(0)
    examples = np.stack([rng.normal(0, 1.0, 500), rng.normal(0, 0.1, 500)], axis=1)
    centre, scale, radius = prototype(examples)
    layer = NewSigns([centre], [radius], scales=[scale])
    known = np.array([[0.9], [0.9]], np.float32)  # one known sign, given with confidence
    windows = centre + np.array([[1.5, 0.0], [0.0, 1.5]], np.float32)
    p = np.asarray(layer([windows, known]))
    assert p[0].argmax() == 1 and p[1].argmax() == 0, p


def test_each_part_of_an_embedding_weighs_its_share():
    """An embedding of two parts (the veto network's, then the hand shapes): scaled, each part's distances
    are in units of its own radius times its weight's share, however many dimensions and whatever spread."""
    from signlang.newsigns import prototype

    rng = np.random.default_rng(0)
    examples = np.concatenate([rng.normal(0, 5.0, (400, 3)), rng.normal(0, 0.01, (400, 40))], axis=1)
    centre, scale, radius = prototype(examples, [(3, 1.0), (40, 2.0)])
    squares = (examples - centre) ** 2 / scale
    assert np.percentile(squares[:, :3].sum(-1), 95) == pytest.approx(1 / 3)
    assert np.percentile(squares[:, 3:].sum(-1), 95) == pytest.approx(2 / 3)
    assert np.mean(np.sqrt(squares.sum(-1)) <= radius) == pytest.approx(0.95, abs=0.005)

    examples[:, 3:] = 0  # no hand in any example: finite scales, a window with a hand is far
    centre, scale, radius = prototype(examples, [(3, 1.0), (40, 2.0)])
    assert np.isfinite(scale).all() and (scale > 0).all()
    assert ((examples[0] + np.r_[[0.0] * 3, [0.5] * 40] - centre) ** 2 / scale).sum() > 100 * radius ** 2


def test_own_known_signs_keep_their_windows():
    """Inside the (widened) radius, a window nearer the signer's own known sign than the new sign's examples is
    not the new sign; one nearer the examples is; without own signs the first is taken for the new sign."""
    from signlang.newsigns import NewSigns

    examples = np.array([[[0.0, 0.0], [0.2, 0.0]]], np.float32)
    counter = np.array([[1.0, 0.0]], np.float32)
    known = np.array([[0.9], [0.9]], np.float32)
    windows = np.array([[0.9, 0.0], [0.1, 0.0]], np.float32)  # by the own known sign; among the examples
    own = NewSigns([[0.1, 0.0]], [1.0], examples=examples, counter=counter)
    p = np.asarray(own([windows, known]))
    assert p[0].argmax() == 0 and p[1].argmax() == 1, p
    alone = np.asarray(NewSigns([[0.1, 0.0]], [1.0])([windows, known]))
    assert alone[0].argmax() == 1, alone


def test_a_window_between_needs_a_wider_margin_where_the_model_is_sure():
    """A window a little nearer the new sign's examples than the signer's own known sign is the new sign where
    the model is unsure of its signs (or sure only of "no sign"), and stays the known sign where it is sure."""
    from signlang.newsigns import NewSigns

    examples = np.array([[[0.0, 0.0]]], np.float32)
    counter = np.array([[1.0, 0.0]], np.float32)
    layer = NewSigns([[0.0, 0.0]], [1.0], examples=examples, counter=counter, gate=4.0, margins=(0.8, 1.3),
                     signs=[0, 1])
    window = np.array([[0.488, 0.0]], np.float32)  # squared distances 0.26 and 0.24 from the counter, examples: 1.1x
    unsure, sure, idle = ([[0.3, 0.3, 0.4]], [[0.95, 0.03, 0.02]], [[0.03, 0.02, 0.95]])  # columns: 2 signs, no sign
    p = {name: np.asarray(layer([window, np.array(known, np.float32)]))[0]
         for name, known in [("unsure", unsure), ("sure", sure), ("idle", idle)]}
    assert p["unsure"].argmax() == 3 and p["idle"].argmax() == 3 and p["sure"].argmax() == 0, p


def test_without_own_signs_the_radius_widens_where_the_model_gives_no_sign():
    """Without the signer's own known signs, a window outside the radius but within 3x (squared) is the new
    sign where the model gives none of its signs, and stays the known sign where it is sure of one; a layer
    saved before there was an unsure gate keeps the plain radius."""
    from signlang.newsigns import NewSigns

    layer = NewSigns([[0.0, 0.0]], [1.0], signs=[0, 1], unsure_gate=3.0)
    window = np.array([[1.4, 0.0]], np.float32)  # squared distance 1.96 radii
    idle, sure = np.array([[0.03, 0.02, 0.95]], np.float32), np.array([[0.95, 0.03, 0.02]], np.float32)
    assert np.asarray(layer([window, idle]))[0].argmax() == 3
    assert np.asarray(layer([window, sure]))[0].argmax() == 0
    assert np.asarray(NewSigns([[0.0, 0.0]], [1.0], signs=[0, 1])([window, idle]))[0].argmax() == 2
