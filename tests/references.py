"""Independent NumPy statements of formulas the tests compare tfreid against."""

import numpy as np


def cross_entropy(labels, logits, epsilon: float = 0.0) -> np.ndarray:
    """Per-sample softmax cross-entropy against (1 - ε)·onehot + ε/C targets; logits [N, C]."""
    logits = np.asarray(logits, np.float64)
    num_classes = logits.shape[1]
    target = (1.0 - epsilon) * np.eye(num_classes)[np.asarray(labels)] + epsilon / num_classes
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(target * log_probs).sum(axis=1)
