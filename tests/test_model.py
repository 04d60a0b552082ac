"""signlang.model, features, augment, train: the tutorial architecture, the normalising layer, augmentation,
grouped splits, saving and loading (the project's files and the tutorial's own), LiteRT conversion. Real
recordings from ../shared."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import FULL_FACE, IDLE, ROOT, YES_NO, more_signs_archive, signer_archive
from signlang import config, context, data, layout, model as M, nosign, train as training, veto
from signlang.augment import augment
from signlang.features import (FACE_ASPECT, HAND_SHAPE_SIZE, L_SHOULDER, MIDDLE_MCP, R_SHOULDER, UPPER_BODY,
                                HandShape, Normalize)
from signlang.errors import SignlangError


@pytest.fixture(scope="module")
def six():
    """Six different people (FULL_FACE, by name), hello/thanks/iloveyou 30 each."""
    return data.load([signer_archive(name) for name in FULL_FACE[:6]], progress=False)


@pytest.fixture(scope="module")
def with_other_signs():
    """Two people with more than the tutorial's signs: one with `idle` recordings, one with yes and no."""
    return data.load([signer_archive(IDLE), more_signs_archive(IDLE), signer_archive(YES_NO),
                      more_signs_archive(YES_NO)], progress=False)


def test_build_model_is_the_tutorial_architecture():
    model = M.build_model(3)
    assert [(type(layer).__name__, layer.units, layer.activation.__name__) for layer in model.layers] == [
        ("LSTM", 64, "relu"), ("LSTM", 128, "relu"), ("LSTM", 64, "relu"),
        ("Dense", 64, "relu"), ("Dense", 32, "relu"), ("Dense", 3, "softmax")]
    assert model.input_shape == (None, 30, 1662) and model.count_params() == 596675  # the notebook's summary
    assert model.loss == "categorical_crossentropy"


def test_split_never_puts_a_person_on_both_sides(six):
    labels = np.array([six.actions.index(a) for a in six.y])
    for seed in range(5):
        tr, va = training.split(labels, six.groups, seed=seed)
        assert len(tr) + len(va) == len(labels) and len(va) > 0
        assert not set(six.groups[tr]) & set(six.groups[va])


def test_split_with_one_group_is_stratified_and_says_so(six, capsys):
    one = six.groups == six.groups[0]
    labels = np.array([six.actions.index(a) for a in six.y[one]])
    tr, va = training.split(labels, six.groups[one])
    assert "one data group only" in capsys.readouterr().err
    assert np.bincount(labels[va]).min() >= 5 and not set(tr) & set(va)


def normalize(X):
    return keras.ops.convert_to_numpy(Normalize()(X.astype(np.float32)))


def moved(X, fn, dims=2):
    """X with fn applied to the first dims coordinates (x, y[, z]) of every detected pose, face and hand landmark."""
    X = X.copy()
    for part, width in ((layout.POSE, 4), (layout.FACE, 3), (layout.LEFT_HAND, 3), (layout.RIGHT_HAND, 3)):
        block = X[..., part].reshape(*X.shape[:2], -1, width)
        present = np.any(block != 0, axis=-1, keepdims=True)
        block[..., :dims] = np.where(present, fn(block[..., :dims]), 0)
        X[..., part] = block.reshape(*X.shape[:2], -1)
    return X


def test_normalize_ignores_camera_framing_and_most_of_the_face(six):
    X = six.X[:16]
    further = moved(X, lambda xyz: xyz * 0.7 + [0.1, 0.2, 0], dims=3)  # further away, off-centre
    face = further[..., layout.FACE].reshape(16, 30, -1, 3)
    unread = np.setdiff1d(np.arange(layout.FACE_LANDMARKS), FACE_ASPECT)
    face[:, :, unread] = np.random.default_rng(0).random(face[:, :, unread].shape)
    further[..., layout.FACE] = face.reshape(16, 30, -1)
    assert np.allclose(normalize(X), normalize(further), atol=1e-3)


@pytest.mark.parametrize("k", [0.5, 1.3])
def test_normalize_corrects_the_camera_aspect_ratio(six, k):
    """The same recording seen by a camera of another aspect ratio (MediaPipe's y is in image heights): a
    portrait phone (k = 0.5) or a wider webcam gives the same features, read off the face's proportions."""
    X = six.X[::40][:16]
    stretched = moved(X, lambda xy: np.stack([xy[..., 0], 0.5 + (xy[..., 1] - 0.5) * k], axis=-1))
    assert np.allclose(normalize(X), normalize(stretched), atol=1e-3)
    assert not np.allclose(X, stretched, atol=1e-2)


def test_normalize_marks_missing_parts_and_stays_finite(six):
    X = six.X[:4].copy()
    X[0, :, layout.LEFT_HAND] = 0
    X[1] = 0  # nothing detected at all
    features = normalize(X)
    assert np.isfinite(features).all()
    assert not features[1].any() or np.allclose(features[1], features[1, :1])  # no pose, no hands: constant
    left_flag = UPPER_BODY * 2 + 1 + layout.HAND_LANDMARKS * 3 + 2
    assert (features[0, :, left_flag] == 0).all()
    assert np.array_equal(features[2, :, left_flag] == 1, np.any(X[2][:, layout.LEFT_HAND] != 0, axis=-1))


def hand_shape(X):
    return keras.ops.convert_to_numpy(HandShape()(X.astype(np.float32)))


def test_hand_shape_ignores_camera_distance_and_framing(six):
    """HandShape (the baseline's features, and add-sign's beside the embedding): the same signing further
    away and off-centre gives the same values; another person's signing does not."""
    X = six.X[:16]
    further = moved(X, lambda xyz: xyz * 0.7 + [0.1, 0.2, 0], dims=3)
    assert hand_shape(X).shape == (16, HAND_SHAPE_SIZE)
    assert np.allclose(hand_shape(X), hand_shape(further), atol=1e-3)
    assert not np.allclose(hand_shape(X), hand_shape(six.X[-16:]), atol=1e-1)


def test_hand_shape_of_missing_hands_and_poses(six):
    X = six.X[:3].copy()
    X[0, :, layout.LEFT_HAND] = 0                # no left hand in any frame
    X[1, ::2, layout.RIGHT_HAND] = 0             # the right hand in half the frames
    X[2] = 0                                     # nobody
    shape = hand_shape(X)
    per_hand = (HAND_SHAPE_SIZE - 2) // 2
    assert np.isfinite(shape).all() and not shape[2].any()
    assert not shape[0, :per_hand].any() and shape[0, -2] == 0
    assert shape[1, -1] == pytest.approx(np.any(X[1][:, layout.RIGHT_HAND] != 0, axis=-1).mean())


def test_a_part_without_the_points_features_are_measured_from_counts_as_missing(six):
    """A damaged record (keypoints saved in another order, then partly cleared, as two people of ../shared): a
    pose without its shoulders, a hand with one point left, a face without the points the aspect is read
    from give the same Normalize and HandShape features as those parts not found at all (all zeros)."""
    damaged, missing = six.X[::45][:4].copy(), six.X[::45][:4].copy()
    for X, keep in ((damaged, True), (missing, False)):
        pose = X[..., layout.POSE].reshape(*X.shape[:2], -1, 4)
        pose[..., [L_SHOULDER, R_SHOULDER], :] = 0
        pose[...] *= keep
        hand = X[..., layout.RIGHT_HAND].reshape(*X.shape[:2], -1, 3)
        hand[..., np.arange(layout.HAND_LANDMARKS) != MIDDLE_MCP, :] = 0
        hand[...] *= keep
        face = X[..., layout.FACE].reshape(*X.shape[:2], -1, 3)
        face[..., FACE_ASPECT, :] = 0
        face[...] *= keep
        X[..., layout.POSE], X[..., layout.RIGHT_HAND], X[..., layout.FACE] = (
            pose.reshape(*X.shape[:2], -1), hand.reshape(*X.shape[:2], -1), face.reshape(*X.shape[:2], -1))
    assert damaged[..., layout.POSE].any() and damaged[..., layout.RIGHT_HAND].any()
    assert np.allclose(normalize(damaged), normalize(missing)) and np.isfinite(normalize(damaged)).all()
    assert np.allclose(hand_shape(damaged), hand_shape(missing))
    assert not np.allclose(normalize(damaged), normalize(six.X[::45][:4]), atol=1e-2)


def test_a_hand_found_twice_is_read_once(six):
    """Holistic can put one hand in both hand slots: the copy (in the slot whose pose wrist is farther) is read
    as not found by Normalize and HandShape; a real second hand beside the first is read."""
    X = six.X[::45][:4].astype(np.float32)
    right = X[..., layout.RIGHT_HAND]
    seen = right.any(-1, keepdims=True)
    assert seen.mean() > 0.5
    one = X.copy()
    one[..., layout.LEFT_HAND] = 0
    copied, beside = one.copy(), one.copy()
    copied[..., layout.LEFT_HAND] = right + 0.002 * seen  # the same hand, a little jitter
    beside[..., layout.LEFT_HAND] = right + 0.15 * seen * np.tile([1, 0, 0], layout.HAND_LANDMARKS)  # half a body away
    assert np.allclose(normalize(copied), normalize(one)) and np.allclose(hand_shape(copied), hand_shape(one))
    assert not np.allclose(normalize(beside), normalize(one), atol=1e-2)


def test_augment_keeps_layout_and_missing_parts(six):
    X = six.X[:32]
    out = augment(X.copy(), np.random.default_rng(0))
    assert out.shape == X.shape and np.isfinite(out).all()
    never = ~np.any(X[..., layout.LEFT_HAND] != 0, axis=(1, 2)) & ~np.any(X[..., layout.RIGHT_HAND] != 0, axis=(1, 2))
    assert not out[never][..., layout.LEFT_HAND.start:].any()  # no hand invented
    assert not np.allclose(out, X)
    # Mirroring swaps the hands: a left-only window becomes right-only in some of many draws.
    most_left = np.argmax(np.any(X[..., layout.LEFT_HAND] != 0, axis=-1).sum(axis=1))
    left_only = X[most_left:most_left + 1].copy()
    left_only[..., layout.RIGHT_HAND] = 0
    draws = augment(np.repeat(left_only, 64, axis=0), np.random.default_rng(1))
    right = np.any(draws[..., layout.RIGHT_HAND] != 0, axis=(1, 2))
    assert 10 < right.sum() < 54 and not np.any(draws[right][..., layout.LEFT_HAND] != 0)


def test_save_load_records_actions_and_keeps_predictions(tmp_path, six):
    model = M.build_recipe(4)
    path = tmp_path / "four.h5"
    M.save(model, path, ["hello", "thanks", "iloveyou", "goodbye"])
    loaded = M.load_model(path)
    assert M.load_actions(path) == ["hello", "thanks", "iloveyou", "goodbye"]
    assert np.allclose(model.predict(six.X[:8], verbose=0), loaded.predict(six.X[:8], verbose=0), atol=1e-5)
    with pytest.raises(SignlangError, match="model has 4 outputs but 3 actions"):
        M.save(model, tmp_path / "x.h5", config.ACTIONS)


def test_a_fresh_process_loads_a_saved_recipe(tmp_path):
    path = tmp_path / "action.h5"
    M.save(M.build_recipe(3), path, config.ACTIONS)
    code = f"from signlang import model; m = model.load_model({str(path)!r}); print(m.get_layer('normalize'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0 and "Normalize" in out.stdout, out.stderr[-2000:]


def tutorial_model(n):
    """The notebook's cell, verbatim in Keras terms (input_shape on the first LSTM, 'Adam' by name)."""
    model = keras.Sequential()
    model.add(keras.layers.LSTM(64, return_sequences=True, activation="relu", input_shape=(30, 1662)))
    model.add(keras.layers.LSTM(128, return_sequences=True, activation="relu"))
    model.add(keras.layers.LSTM(64, return_sequences=False, activation="relu"))
    model.add(keras.layers.Dense(64, activation="relu"))
    model.add(keras.layers.Dense(32, activation="relu"))
    model.add(keras.layers.Dense(n, activation="softmax"))
    model.compile(optimizer="Adam", loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    return model


def test_tutorial_saved_file_loads_with_the_tutorial_actions(tmp_path, six):
    path = tmp_path / "action.h5"
    tutorial_model(3).save(path)
    model = M.load_model(path)
    assert M.load_actions(path) == list(config.ACTIONS)
    assert model.predict(six.X[:2], verbose=0).shape == (2, 3)
    tutorial_model(4).save(tmp_path / "four.h5")
    with pytest.raises(SignlangError, match=r"four.h5: has 4 outputs but records no action names .* has 3"):
        M.load_actions(tmp_path / "four.h5")


def test_unloadable_files(tmp_path):
    with pytest.raises(SignlangError, match=r"missing.h5: no such model file"):
        M.load_model(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"junk" * 100)
    with pytest.raises(SignlangError, match=r"junk.h5: not a loadable Keras model"):
        M.load_model(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(SignlangError, match=r"empty.h5: not a loadable Keras model"):
        M.load_model(tmp_path / "empty.h5")


def test_recipe_converts_to_litert_with_builtin_ops_and_compiles(tmp_path, six):
    model = M.build_recipe(3)
    M.save(model, tmp_path / "action.h5", config.ACTIONS)
    model = M.load_model(tmp_path / "action.h5")
    window = six.X[:1]
    expected = model.predict(window, verbose=0)
    assert np.allclose(tf.function(model, jit_compile=False)(window).numpy(), expected, atol=1e-5)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex/SELECT_TF_OPS
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], window)
    interpreter.invoke()
    assert np.allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, atol=1e-4)


def test_training_learns_from_real_people(tmp_path, six):
    """A short run of the shipped recipe on five people beats chance clearly on a sixth; the saved model
    is the average of its members."""
    keep = six.groups != six.groups[-1]
    train = data.Dataset(six.X[keep], six.y[keep], six.groups[keep], six.actions)
    model, histories = training.train(train, tmp_path / "m.h5", tmp_path / "Logs", members=2, epochs=12, verbose=0)
    assert M.load_actions(tmp_path / "m.h5") == [*six.actions, config.NO_SIGN]
    held = ~keep
    probabilities = model.predict(six.X[held], verbose=0)
    predicted = np.array([*six.actions, config.NO_SIGN])[probabilities.argmax(-1)]
    assert (predicted == six.y[held]).mean() > 0.6
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(members) == 2 == len(histories)
    np.testing.assert_allclose(probabilities, np.mean([m.predict(six.X[held], verbose=0) for m in members], axis=0),
                               atol=1e-6)
    assert np.allclose(M.load_model(tmp_path / "m.h5").predict(six.X[held], verbose=0), probabilities, atol=1e-6)
    assert (tmp_path / "m.png").stat().st_size > 1000
    assert {p.name for p in next((tmp_path / "Logs").iterdir()).iterdir()} == {"member_1", "member_2"}
    assert all(len(h.history["val_loss"]) <= 12 for h in histories)


def test_keras2_tutorial_file_loads(tmp_path, six):
    """The tutorial ran on TensorFlow 2.x: its action.h5 has Keras 2 configs (`time_major` in each LSTM and
    `batch_input_shape`), which plain Keras 3 rejects. Rewrite a saved config the way Keras 2 wrote it."""
    path = tmp_path / "action.h5"
    original = M.build_model(3)
    original.save(path)
    with h5py.File(path, "a") as f:
        config_ = json.loads(f.attrs["model_config"])
        layers_ = config_["config"]["layers"]
        layers_[0]["config"]["batch_input_shape"] = layers_[0]["config"].pop("batch_shape")
        layers_[1]["config"]["batch_input_shape"] = [None, 30, 1662]
        for layer in layers_[1:4]:
            layer["config"]["time_major"] = False
        f.attrs["model_config"] = json.dumps(config_)
        f.attrs["keras_version"] = "2.12.0"
    loaded = M.load_model(path)
    assert M.load_actions(path, loaded) == list(config.ACTIONS)
    assert np.allclose(loaded.predict(six.X[:4], verbose=0), original.predict(six.X[:4], verbose=0), atol=1e-5)


def test_train_rejects_bad_requests_before_training(tmp_path, six):
    """Every action to train needs recordings; without the 'no sign' output two are needed; with it, one sign
    is enough but the 'no sign' action alone is not."""
    with pytest.raises(SignlangError, match=r"no recordings of \['goodbye'\] in the data"):
        training.train(six, tmp_path / "m.h5", actions=["hello", "goodbye"])
    one = data.Dataset(six.X[six.y == "hello"], six.y[six.y == "hello"], six.groups[six.y == "hello"], ["hello"])
    with pytest.raises(SignlangError, match=r"at least two actions, the data has \['hello'\]"):
        training.train(one, tmp_path / "m.h5", no_sign=False)
    with pytest.raises(SignlangError, match=r"at least one sign, the data has \[\]"):
        training.train(six, tmp_path / "m.h5", actions=[config.NO_SIGN])
    with pytest.raises(SignlangError, match="unknown recipe 'gru'"):
        training.train(six, tmp_path / "m.h5", recipe="gru")
    assert not (tmp_path / "m.h5").exists()


# --- the 'no sign' output: training examples and the windows cut from sign recordings -----------------

def test_examples_map_idle_to_no_sign_leave_other_signs_out_and_add_windows(with_other_signs):
    ds = with_other_signs
    assert sorted(np.unique(ds.groups)) == sorted([IDLE, YES_NO])  # a person's two archives are one group
    assert {"idle", "yes", "no"} == set(ds.y) - set(config.ACTIONS)
    X, labels, groups, outputs = training.examples(ds, actions=list(config.ACTIONS))
    assert outputs == ["hello", "thanks", "iloveyou", "idle"]
    kept = np.isin(ds.y, outputs)
    n = kept.sum()
    assert np.array_equal(labels[:n], [outputs.index(a) for a in ds.y[kept]])
    assert np.array_equal(X[:n], ds.X[kept]) and np.array_equal(groups[:n], ds.groups[kept])
    signs = np.isin(ds.y, config.ACTIONS)
    made = (labels[n:] == 3).sum()
    expected = config.NO_SIGN_SHARE * signs.sum()
    assert made > 0 and abs(made - expected) <= 2, (made, expected)  # one rounding per group
    assert X.shape[1:] == (30, 1662) and len(labels) == len(groups) == len(X)
    assert (labels[n:n + made] == 3).all() and set(groups[n:n + made]) == {IDLE, YES_NO}
    edges = len(X) - n - made  # sign windows with another sign's edge: from groups with two signs or more
    two_signs = [g for g in np.unique(ds.groups) if len(set(ds.y[signs & (ds.groups == g)])) >= 2]
    expected = config.CONTEXT_SHARE * (signs & np.isin(ds.groups, two_signs)).sum()
    assert edges > 0 and abs(edges - expected) <= 2, (edges, expected)
    assert (labels[n + made:] < 3).all() and set(groups[n + made:]) <= set(two_signs)


def test_veto_moves_a_window_to_no_sign_only_when_the_veto_network_is_all_but_sure():
    p = np.array([[0.7, 0.2, 0.05, 0.05]] * 4, np.float32)  # three signs, then 'no sign'
    other = np.array([0.5, 0.99, 0.995, 1.0], np.float32)  # the veto network's summed other signs
    q = np.concatenate([np.tile((1 - other)[:, None] / 4, (1, 4)), other[:, None] / 2, other[:, None] / 2], axis=1)
    out = keras.ops.convert_to_numpy(veto.Veto(no_sign=3)([p, q]))
    v = np.array([0, 0, 0.5, 1])[:, None]
    np.testing.assert_allclose(out, p * (1 - v) + v * np.eye(4)[3], atol=1e-5)
    np.testing.assert_allclose(out.sum(-1), 1, atol=1e-6)
    assert veto.Veto.from_config(veto.Veto(2, tau=0.9).get_config()).tau == 0.9


def test_training_with_other_signs_adds_a_veto_network_that_add_sign_keeps(tmp_path, with_other_signs):
    """yes and no are not signs of the model: a veto network learns them, the sign network never sees them."""
    from signlang import enroll, predictor

    model, histories = training.train(with_other_signs, tmp_path / "m.h5", tmp_path / "Logs",
                                      actions=list(config.ACTIONS), members=1, epochs=2, verbose=0)
    assert M.load_actions(tmp_path / "m.h5") == [*config.ACTIONS, config.NO_SIGN]
    loaded = M.load_model(tmp_path / "m.h5")
    X = with_other_signs.X[::7]
    probabilities = loaded.predict(X, verbose=0)
    np.testing.assert_allclose(probabilities, model.predict(X, verbose=0), atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-5)
    (sign_net,), (veto_net, no_sign) = enroll.networks(loaded, "m.h5"), veto.find(loaded)
    assert sign_net.output_shape[-1] == 4 and veto_net.output_shape[-1] == 6 and no_sign == 3
    p, q = sign_net.predict(X, verbose=0), veto_net.predict(X, verbose=0)
    v = np.clip((q[:, 4:].sum(-1, keepdims=True) - veto.TAU) / (1 - veto.TAU), 0, 1)
    np.testing.assert_allclose(probabilities, p * (1 - v) + v * np.eye(4)[3], atol=1e-5)
    assert [h.model.name for h in histories] == ["signlang", veto.NAME]
    assert {p.name for p in next((tmp_path / "Logs").iterdir()).iterdir()} == {"signlang", veto.NAME}
    np.testing.assert_allclose(predictor.load_predictor(tmp_path / "m.h5")(X[0]), probabilities[0], atol=1e-4)
    added, actions = enroll.add_signs(loaded, M.load_actions(tmp_path / "m.h5"),
                                      {"wave": with_other_signs.X[:5]}, progress=False)
    assert actions[-1] == "wave" and veto.find(added) is not None
    layer = enroll._new_signs(added)  # in the veto network's embedding: the width of its last hidden layer
    assert layer.in_veto and layer.prototypes.shape == (1, veto_net.get_layer(veto.HEAD).input.shape[-1])
    older = enroll.build([sign_net], {"prototypes": layer.prototypes, "scales": layer.scales, "radii": layer.radii},
                         veto.find(loaded), in_veto=False)
    again, _ = enroll.add_signs(older, actions, {"nod": with_other_signs.X[5:10]}, progress=False)
    assert not enroll._new_signs(again).in_veto  # signs added in the sign networks' embedding stay there
    np.testing.assert_allclose(added.predict(X, verbose=0).sum(-1), 1, atol=1e-5)
    without, _ = training.train(with_other_signs, tmp_path / "n.h5", tmp_path / "Logs", actions=list(config.ACTIONS),
                                members=1, epochs=1, verbose=0, no_sign=False)
    assert veto.find(without) is None


def test_the_shipped_model_turns_other_signs_into_no_sign_and_keeps_its_signs(with_other_signs):
    """action.h5's veto network at work on a person of its training data (bench/streams.py measures new people)."""
    from signlang import enroll

    shipped = M.load_model(ROOT / "action.h5")
    _, no_sign = veto.find(shipped)
    alone = M.average(enroll.networks(shipped, "action.h5"))  # the sign networks without the veto
    mine = with_other_signs.groups == YES_NO
    X, y = with_other_signs.X[mine], with_other_signs.y[mine]
    vetoed, unvetoed = shipped.predict(X, verbose=0).argmax(-1), alone.predict(X, verbose=0).argmax(-1)
    other, signs = np.isin(y, ["yes", "no"]), np.isin(y, config.ACTIONS)
    assert other.sum() == 60 and (vetoed[other] == no_sign).mean() >= 0.9 > 0.1 >= (unvetoed[other] == no_sign).mean()
    assert np.array_equal(vetoed[signs], unvetoed[signs])
    assert (vetoed[signs] == [config.ACTIONS.index(a) for a in y[signs]]).mean() >= 0.95


def test_examples_default_actions_and_without_no_sign(with_other_signs, six):
    _, labels, _, outputs = training.examples(with_other_signs)  # every sign of the data, then 'no sign'
    assert outputs == ["hello", "thanks", "iloveyou", "no", "yes", "idle"]
    n = len(with_other_signs.y)
    assert np.array_equal(labels[:n] == 5, with_other_signs.y == "idle")
    X, labels, _, outputs = training.examples(six, no_sign=False)
    assert outputs == list(config.ACTIONS) and len(X) == len(six.y)  # nothing added
    assert np.array_equal(np.array(outputs)[labels], six.y)
    X, labels, _, outputs = training.examples(with_other_signs, actions=list(config.ACTIONS), no_sign=False)
    assert outputs == list(config.ACTIONS) and len(X) == np.isin(with_other_signs.y, config.ACTIONS).sum()


def pose_of(frames):
    return frames[..., layout.POSE].reshape(len(frames), layout.POSE_LANDMARKS, 4)


def test_at_rest_hides_the_hands_and_drops_the_wrists(six):
    hands = np.any(six.X[..., layout.LEFT_HAND] != 0, axis=-1) | np.any(six.X[..., layout.RIGHT_HAND] != 0, axis=-1)
    pose_seen = np.any(six.X[..., layout.POSE] != 0, axis=-1)
    frames = six.X[np.flatnonzero(hands.all(axis=1) & pose_seen.all(axis=1))[0]]  # hands and pose in every frame
    before = frames.copy()
    rest = nosign.at_rest(frames, np.random.default_rng(0))
    assert np.array_equal(frames, before)  # the input is left alone
    assert rest.shape == frames.shape and rest.dtype == frames.dtype
    assert not rest[:, layout.LEFT_HAND].any() and not rest[:, layout.RIGHT_HAND].any()
    pose, original = pose_of(rest), pose_of(frames)
    shoulders_y = original[:, [11, 12], 1].max(axis=1)
    assert (pose[:, 15, 1] > shoulders_y).all() and (pose[:, 16, 1] > shoulders_y).all()  # wrists below shoulders
    assert (pose[:, 15, 1] > pose[:, 13, 1]).all() and (pose[:, 16, 1] > pose[:, 14, 1]).all()  # below the elbows
    arms = np.arange(13, 23)
    assert not np.allclose(pose[:, arms], original[:, arms])
    others = np.setdiff1d(np.arange(layout.POSE_LANDMARKS), arms)
    assert np.array_equal(pose[:, others], original[:, others])
    assert np.array_equal(rest[:, layout.FACE], frames[:, layout.FACE])


@pytest.mark.parametrize("share", [config.NO_SIGN_SHARE, 0.5])
def test_windows_are_about_share_times_n_rest_windows_of_each_group(six, share):
    X, groups = six.X[:150], six.groups[:150]  # two people (90 + 60 sequences)
    assert len(np.unique(groups)) == 2
    made, made_groups = nosign.windows(X, groups, np.random.default_rng(0), share=share)
    assert made.shape[1:] == (30, 1662) and np.issubdtype(made.dtype, np.floating) and np.isfinite(made).all()
    assert abs(len(made) - share * len(X)) <= 2 and len(made_groups) == len(made)
    assert set(made_groups) == set(groups)
    no_hands = ~np.any(made[..., layout.LEFT_HAND] != 0, axis=-1) & ~np.any(made[..., layout.RIGHT_HAND] != 0, axis=-1)
    assert (no_hands.sum(axis=1) >= 21).all()  # rest, or a sign's first/last 3-9 frames beside rest
    assert (no_hands.sum(axis=1) == 30).any() and (no_hands.sum(axis=1) < 30).any()  # both kinds


def test_context_windows_are_a_persons_sign_with_the_edge_of_another_of_their_signs(six):
    pick = np.concatenate([np.flatnonzero(six.y == a)[:4] for a in config.ACTIONS])  # 4 of each sign
    X, labels = six.X[pick], np.array([list(config.ACTIONS).index(a) for a in six.y[pick]])
    groups = np.array(["a"] * len(X))
    made, made_labels, made_groups = context.windows(X, labels, groups, np.random.default_rng(0), share=1.0, most=12)
    assert len(made) == len(X) and set(made_groups) == {"a"}
    for window, label in zip(made, made_labels):
        # the sign's own frames, shifted by k, fill 18 or more of the 30; the other k frames are another sign's
        found = [(k, i) for k in range(3, 13) for i in np.flatnonzero(labels == label)
                 if np.array_equal(window[:30 - k], X[i][k:]) or np.array_equal(window[k:], X[i][:30 - k])]
        assert found, "a context window must hold most of a sequence of its own sign"
        k, i = found[0]
        edge = window[30 - k:] if np.array_equal(window[:30 - k], X[i][k:]) else window[:k]
        assert any(np.array_equal(edge, X[j][:k]) or np.array_equal(edge, X[j][-k:]) for j in np.flatnonzero(labels != label))
    one_sign = context.windows(X[labels == 0], labels[labels == 0], groups[labels == 0], np.random.default_rng(0))
    assert len(one_sign[0]) == 0  # a person with one sign has no other sign to border it
