"""HPILN's objectives (HPI, Eq. 8, and the compared losses): what each logs, the update it
makes, the averages over a network's heads (A1) and the centre loss's own optimizer (A5).
A1, A2, A5: the choices of docs/methods/hpiln.md."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from method_harness import H, K, P, W, build, random_batch, tiny_config
from references import cross_entropy

from tfreid.config import ConfigError
from tfreid.losses import batch_hard_triplet, hard_pentaplet
from tfreid.methods import base, hpiln, resolve

CLASSES = 6
LR = 0.1  # tiny_config: plain SGD, no momentum, no weight decay


class TwoHeads(keras.Model):
    """A stand-in network with two ranking features (3-d, 4-d) and two classifiers, as BFE."""

    def __init__(self):
        super().__init__(name="two_heads")
        self.first = keras.layers.Dense(3, name="first")
        self.second = keras.layers.Dense(4, name="second")
        self.classifiers = [keras.layers.Dense(CLASSES, name=f"classifier{i}") for i in (1, 2)]

    def call(self, inputs, training=False):
        rows = [inputs[m] for m in ("rgb", "ir") if m in inputs]
        x = tf.concat([tf.reshape(r, (tf.shape(r)[0], -1)) for r in rows], axis=0)
        features = [self.first(x), self.second(x)]
        logits = tf.stack([c(f) for c, f in zip(self.classifiers, features)], axis=1)
        return {"features": features, "embedding": tf.concat(features, 1), "logits": logits}


def two_heads_parts(monkeypatch, *overrides):
    """(params, parts) of hpiln with the `TwoHeads` network as its model."""

    def build_model(cfg, num_classes):
        model = TwoHeads()
        model({"rgb": tf.zeros((1, H, W, 3))})  # variables exist before the optimizer
        return model

    monkeypatch.setattr(base, "build_model", build_model)
    _, params, parts = build(tiny_config("method.name=hpiln", *overrides), CLASSES)
    return params, parts


def inputs_and_labels(batch):
    inputs = {m: batch[m]["image"] for m in ("rgb", "ir")}
    labels = np.concatenate([batch["rgb"]["pid"], batch["ir"]["pid"]])
    return inputs, labels, np.repeat([0, 1], P * K)


def test_defaults_follow_the_paper_and_the_notes():
    params = hpiln.Params()
    assert (params.loss, params.margin) == ("hpi", 0.3)  # Eq. 8; A2: the grid's lowest
    assert (params.centre_weight, params.centre_lr) == (1e-3, 1.0)  # A5 via losses/centre.py


@pytest.mark.parametrize(
    "loss, logged",
    [
        ("hpi", {"id", "hp", "hgt", "hct"}),
        ("hp", {"hp", "hgt", "hct"}),
        ("identity", {"id"}),
        ("ht", {"ht"}),
        ("hti", {"id", "ht"}),
        ("identity_centre", {"id", "centre"}),
    ],
)
def test_each_objective_logs_its_terms_and_moves_by_their_gradient(monkeypatch, loss, logged):
    """Two heads: identity is the mean over both classifiers of the plain cross-entropy, HP and
    HT the mean over both ranking features (A1); plain SGD moves every network weight by -lr
    times the gradient of the objective, computed here apart (HP or HT alone leave the
    classifiers unused and unmoved)."""
    params, parts = two_heads_parts(monkeypatch, f"method.params.loss={loss}")
    model = parts.nets["model"]
    batch = random_batch(2)
    inputs, labels, modalities = inputs_and_labels(batch)
    centres = parts.nets["centres"].centres.numpy() if "centre" in logged else None
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        terms = {
            "id": tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    np.repeat(labels[:, None], 2, 1), out["logits"]
                )
            ),
            "hp": tf.reduce_mean(
                [
                    tf.reduce_mean(hard_pentaplet(labels, f, modalities, 0.3))
                    for f in out["features"]
                ]
            ),
            "ht": tf.reduce_mean(
                [tf.reduce_mean(batch_hard_triplet(labels, f, 0.3)) for f in out["features"]]
            ),
        }
        if centres is not None:
            flat = tf.concat(out["features"], 1)
            terms["centre"] = (
                tf.reduce_mean(0.5 * tf.reduce_sum((flat - centres[labels]) ** 2, 1)) / 2
            )
        weights = {"centre": params.centre_weight}
        total = sum(weights.get(t, 1.0) * terms[t] for t in logged if t in terms)
    gradients = tape.gradient(total, model.trainable_variables)
    before = [v.numpy() for v in model.trainable_variables]

    losses = hpiln.train_step(parts, batch, params)

    assert set(losses) == {"loss/total"} | {f"loss/{t}" for t in logged}
    for name in logged & set(terms):
        np.testing.assert_allclose(losses[f"loss/{name}"], terms[name], rtol=1e-5)
    np.testing.assert_allclose(losses["loss/total"], total, rtol=1e-5)
    if "hp" in logged:
        np.testing.assert_allclose(losses["loss/hp"], losses["loss/hgt"] + losses["loss/hct"])
    for variable, old, gradient in zip(model.trainable_variables, before, gradients, strict=True):
        step = 0.0 if gradient is None else LR * gradient.numpy()  # unused classifiers: HP, HT
        np.testing.assert_allclose(variable.numpy(), old - step, atol=1e-6)


def test_centres_take_bot_s_step_on_the_unweighted_loss(monkeypatch):
    """Centre lr 0.5 here: c_j -= 0.5 x (1/N) x sum over the batch's class-j rows of (c_j - f_i),
    with f the two heads' features side by side and the loss averaged over the 2 heads; the
    centres of classes absent from the batch stay."""
    params, parts = two_heads_parts(
        monkeypatch, "method.params.loss=identity_centre", "method.params.centre_lr=0.5"
    )
    centres = parts.nets["centres"].centres
    assert centres.shape == (CLASSES, 3 + 4)
    batch = random_batch(3)
    inputs, labels, _ = inputs_and_labels(batch)
    features = tf.concat(parts.nets["model"](inputs, training=True)["features"], 1).numpy()
    before = centres.numpy()
    hpiln.train_step(parts, batch, params)
    expected = before.copy()
    for j in range(CLASSES):
        rows = labels == j
        expected[j] -= 0.5 * (before[j] - features[rows]).sum(axis=0) / len(labels) / 2
    np.testing.assert_allclose(centres.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert (labels < P).all() and np.array_equal(centres.numpy()[P:], before[P:])


def test_mean_identity_averages_the_classifiers():
    rng = np.random.default_rng(4)
    labels, logits = rng.integers(0, 5, 6), rng.normal(size=(6, 3, 5))
    expected = np.mean([cross_entropy(labels, logits[:, s]) for s in range(3)], axis=0)
    np.testing.assert_allclose(hpiln.mean_identity(labels, logits), expected, rtol=1e-5)
    np.testing.assert_allclose(
        hpiln.mean_identity(labels, logits[:, 0]), cross_entropy(labels, logits[:, 0]), rtol=1e-5
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("method.params.loss=triplet", "method.params.loss"),
        ("method.params.margin=-0.3", "method.params.margin"),
        ("method.params.centre_lr=0", "method.params.centre_lr"),
    ],
)
def test_bad_params_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve(tiny_config("method.name=hpiln", override))


def test_the_centre_loss_refuses_float16():
    """Its second optimizer would need a loss scale of its own; bfloat16 needs none (the
    harness's mixed-precision step trains it). Refused by `resolve`, before a build."""
    float16 = ["train.mixed_precision=float16"]
    cfg = tiny_config("method.name=hpiln", "method.params.loss=identity_centre", *float16)
    with pytest.raises(ConfigError, match="train.mixed_precision.*bfloat16 or float32"):
        resolve(cfg)
    for loss in ("hpi", "identity"):  # one optimizer: float16 is fine
        half = tiny_config("method.name=hpiln", f"method.params.loss={loss}", *float16)
        assert resolve(half)[1].loss == loss
