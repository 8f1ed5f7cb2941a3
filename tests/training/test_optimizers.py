"""Learning-rate schedules and optimizers against values worked out by hand."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfreid.config import ConfigError, OptimizerConfig
from tfreid.training.optimizers import WarmupSchedule, build_optimizer, build_schedule


def rates(schedule, steps):
    return {step: float(schedule(step)) for step in steps}


def test_multistep_with_warmup():
    schedule = WarmupSchedule(0.1, 100, warmup_steps=10, decay="multistep", milestones=(40, 70))
    # Warm-up: base * (step + 1) / 10; then x0.1 at steps 40 and 70.
    expected = {0: 0.01, 4: 0.05, 9: 0.1, 10: 0.1, 39: 0.1, 40: 0.01, 69: 0.01, 70: 1e-3, 99: 1e-3}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)


def test_cosine_with_warmup_starts_after_it():
    schedule = WarmupSchedule(0.1, 100, warmup_steps=10, decay="cosine")
    # After warm-up: 0.05 * (1 + cos(pi * (step - 10) / 90)).
    expected = {
        0: 0.01,
        9: 0.1,
        10: 0.1,
        25: 0.05 * (1 + math.cos(math.pi / 6)),  # 0.0933013
        55: 0.05,
        100: 0.0,
        150: 0.0,
    }
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_cosine_without_warmup():
    schedule = WarmupSchedule(0.2, 8, decay="cosine")
    expected = {0: 0.2, 2: 0.1 * (1 + math.sqrt(0.5)), 4: 0.1, 6: 0.1 * (1 - math.sqrt(0.5))}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)


def test_constant_with_warmup():
    schedule = WarmupSchedule(0.05, 20, warmup_steps=4)
    expected = {0: 0.0125, 1: 0.025, 3: 0.05, 10: 0.05}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)


def test_unknown_decay_is_refused():
    with pytest.raises(ValueError, match="'linear'"):
        WarmupSchedule(0.1, 10, decay="linear")


def test_schedule_from_config_counts_epochs_in_steps():
    cfg = OptimizerConfig(
        learning_rate=0.1, warmup_epochs=2, schedule="multistep", milestones=[3, 5], gamma=0.5
    )
    schedule = build_schedule(cfg, steps_per_epoch=10, epochs=6)
    # 20 warm-up steps, milestones at steps 30 and 50.
    expected = {0: 0.005, 19: 0.1, 29: 0.1, 30: 0.05, 49: 0.05, 50: 0.025}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)
    half = build_schedule(OptimizerConfig(warmup_epochs=0.5), steps_per_epoch=10, epochs=1)
    assert half.warmup_steps == 5


def test_epoch_stepped_warmup_starts_at_a_tenth_and_rises_each_epoch():
    """TS-GAN's schedule (docs/methods/tsgan.md, C10): lr (e + 1) / 10 in warm-up epoch e, then
    x0.3 at 40 and 70."""
    cfg = OptimizerConfig(
        learning_rate=3.5e-4,
        warmup_epochs=10,
        warmup_per_epoch=True,
        schedule="multistep",
        milestones=[40, 70],
        gamma=0.3,
    )
    schedule = build_schedule(cfg, steps_per_epoch=5, epochs=120)
    lr = 3.5e-4
    expected = {0: lr / 10, 4: lr / 10, 5: 2 * lr / 10, 44: 9 * lr / 10, 45: lr, 49: lr, 50: lr}
    expected.update({199: lr, 200: 0.3 * lr, 349: 0.3 * lr, 350: 0.09 * lr})
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ConfigError, match="optimizer.warmup_per_epoch: needs whole"):
        OptimizerConfig(warmup_epochs=2.5, warmup_per_epoch=True)


def test_the_optimizer_rate_follows_its_update_count():
    cfg = OptimizerConfig(learning_rate=0.1, schedule="multistep", milestones=[3], gamma=0.5)
    optimizer = build_optimizer(cfg, [tf.Variable([1.0])], steps_per_epoch=10, epochs=6)
    optimizer.iterations.assign(29)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    optimizer.iterations.assign(30)
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


W0 = np.array([1.0, -2.0, 0.5])
GRADIENTS = [np.array([0.5, -1.0, 0.0]), np.array([0.2, 0.3, -0.4])]
LR, DECAY = 0.1, 0.01


def run_steps(name, **overrides):
    cfg = OptimizerConfig(
        name=name, learning_rate=LR, weight_decay=DECAY, schedule="constant", **overrides
    )
    variable = tf.Variable(W0.astype(np.float32))
    optimizer = build_optimizer(cfg, [variable], steps_per_epoch=1, epochs=10)
    for gradient in GRADIENTS:
        optimizer.apply_gradients([(tf.constant(gradient, tf.float32), variable)])
    return optimizer, variable.numpy()


def sgd_reference(momentum, nesterov):
    """torch.optim.SGD: g += wd * w; buf = momentum * buf + g; w -= lr * (g + momentum * buf
    if nesterov else buf)."""
    w, buf = W0.copy(), None
    for g in GRADIENTS:
        g = g + DECAY * w
        buf = g if buf is None else momentum * buf + g
        w = w - LR * (g + momentum * buf if nesterov else buf)
    return w


def adam_reference(decoupled, b1=0.9, b2=0.999, eps=1e-7):
    w, m, v = W0.copy(), 0.0, 0.0
    for t, g in enumerate(GRADIENTS, start=1):
        if decoupled:
            w = w * (1 - LR * DECAY)
        else:
            g = g + DECAY * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        # Kingma & Ba's efficient form (end of their Sec. 2), which Keras implements.
        w = w - LR * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_with_momentum_and_l2_weight_decay(nesterov):
    optimizer, w = run_steps("sgd", momentum=0.9, nesterov=nesterov)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.nesterov == nesterov
    np.testing.assert_allclose(w, sgd_reference(0.9, nesterov), rtol=1e-6, atol=1e-7)


def test_adam_adds_l2_weight_decay_to_the_gradient():
    optimizer, w = run_steps("adam")
    assert isinstance(optimizer, keras.optimizers.Adam)
    np.testing.assert_allclose(w, adam_reference(decoupled=False), rtol=1e-5, atol=1e-6)


def test_adam_takes_beta_1():
    """CycleGAN's generators and discriminators train with Adam β1 = 0.5."""
    optimizer, w = run_steps("adam", beta_1=0.5)
    assert optimizer.beta_1 == 0.5
    np.testing.assert_allclose(w, adam_reference(decoupled=False, b1=0.5), rtol=1e-5, atol=1e-6)
    assert np.abs(adam_reference(False, b1=0.5) - adam_reference(False)).max() > 1e-4


def test_adamw_decays_the_weights_directly():
    optimizer, w = run_steps("adamw")
    assert isinstance(optimizer, keras.optimizers.AdamW)
    np.testing.assert_allclose(w, adam_reference(decoupled=True), rtol=1e-5, atol=1e-6)
    # The two decays really differ: L2 passes through Adam's normalisation, AdamW's does not.
    assert np.abs(adam_reference(decoupled=False) - adam_reference(decoupled=True)).max() > 1e-4


def test_loss_scaling_wraps_the_chosen_optimizer():
    cfg = OptimizerConfig(name="adamw")
    optimizer = build_optimizer(cfg, [tf.Variable([1.0])], 1, 1, loss_scaling=True)
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(optimizer.inner_optimizer, keras.optimizers.AdamW)


def test_unknown_optimizer_is_refused():
    cfg = OptimizerConfig()
    cfg.name = "rmsprop"
    with pytest.raises(ValueError, match="'rmsprop'"):
        build_optimizer(cfg, [tf.Variable([1.0])], 1, 1)
