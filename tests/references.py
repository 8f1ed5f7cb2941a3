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


def _fmsp_columns(features, labels, modalities, identities, modality, prototype):
    columns = []
    for identity in identities:
        members = np.flatnonzero((labels == identity) & (modalities == modality))
        if prototype == "sample":
            columns.append(features[members[0]])
        else:
            mean = features[members].mean(axis=0)
            columns.append(mean / np.linalg.norm(mean))
    return np.stack(columns, axis=1)  # W: [D, K]


def _softmax(scores):
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def numpy_fmsp(labels, features, modalities, focal, prototype, weight_features=None):
    """IJCV 2020 Eq. 2-6: the per-pair (F)MSP values and confidences, by loops over the
    pairs. `weight_features` (default: `features`) gives the confidences, so a
    finite-difference check can hold them fixed as the stop-gradient does."""
    features = features / np.linalg.norm(features, axis=1, keepdims=True)
    identities = [
        k for k in dict.fromkeys(labels) if {0, 1} <= set(modalities[labels == k].tolist())
    ]
    w_1 = _fmsp_columns(features, labels, modalities, identities, 0, prototype)
    w_2 = _fmsp_columns(features, labels, modalities, identities, 1, prototype)
    if focal and weight_features is not None:
        fixed = numpy_fmsp(labels, weight_features, modalities, True, prototype, None)[1]
    values, confidences = [], []
    for i in np.flatnonzero(modalities == 0):
        for j in np.flatnonzero((modalities == 1) & (labels == labels[i])):
            term_1 = np.sum((w_1.T @ features[i] - w_1.T @ features[j]) ** 2)
            term_2 = np.sum((w_2.T @ features[j] - w_2.T @ features[i]) ** 2)
            y = identities.index(labels[i])
            p_1 = _softmax(w_1.T @ features[i])[y] * _softmax(w_1.T @ features[j])[y]
            p_2 = _softmax(w_2.T @ features[j])[y] * _softmax(w_2.T @ features[i])[y]
            if focal and weight_features is not None:
                p_1, p_2 = fixed[len(values)]
            confidences.append((p_1, p_2))
            values.append(p_1 * term_1 + p_2 * term_2 if focal else term_1 + term_2)
    return np.array(values), confidences
