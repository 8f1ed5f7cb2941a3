"""Modality routing: apply one function per modality to the rows of that modality."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keras import ops


def route(fns: Sequence[Callable], x, modality, sizes: Sequence | None = None):
    """Applies `fns[m]` to the rows of modality m and keeps the row order.

    Modalities mapped to the same function object share it, and it runs once on all their
    rows (a one-stream network sees the whole batch, as its batch norm should).

    Args:
        fns: one callable per modality index, `fn(x_rows, modality_rows) -> y_rows`.
        x: float [B, ...] rows.
        modality: int32 [B] modality index of every row.
        sizes: in training, the rows are grouped by modality in index order, `sizes[m]` rows
            of modality m (ints or scalar tensors; the int 0 for a modality the batch does not
            hold, which is then skipped); each function then sees only its own rows,
            so its batch-norm statistics are those of its modalities. None at inference, when
            rows may mix modalities: every distinct function runs on all rows and each row
            keeps its own modality's result (an empty modality cannot break a layer then).

    Returns:
        [B, ...] outputs in the row order of `x`.
    """
    distinct = list(dict.fromkeys(fns))
    if len(distinct) == 1:
        return distinct[0](x, modality)
    if sizes is None:
        outputs = [fn(x, modality) for fn in distinct]
        result = outputs[0]
        for fn, output in zip(distinct[1:], outputs[1:]):
            rows = ops.any(
                ops.stack([ops.equal(modality, m) for m, f in enumerate(fns) if f is fn]), axis=0
            )
            rows = ops.reshape(rows, (-1,) + (1,) * (len(output.shape) - 1))
            result = ops.where(rows, output, result)
        return result
    if len(sizes) != len(fns):
        raise ValueError(f"route: {len(fns)} functions but {len(sizes)} sizes")
    x_rows, m_rows = _split(x, sizes), _split(modality, sizes)
    y_rows = [None] * len(fns)
    for fn in distinct:
        members = [m for m, f in enumerate(fns) if f is fn and not _absent(sizes[m])]
        if not members:
            continue
        joined = fn(
            ops.concatenate([x_rows[m] for m in members], axis=0),
            ops.concatenate([m_rows[m] for m in members], axis=0),
        )
        for m, y in zip(members, _split(joined, [sizes[m] for m in members])):
            y_rows[m] = y
    return ops.concatenate([y for y in y_rows if y is not None], axis=0)


def _absent(size) -> bool:
    return isinstance(size, int) and size == 0


def _split(x, sizes):
    """Consecutive row blocks of `x` with the given (possibly dynamic) sizes."""
    blocks, start = [], 0
    for size in sizes:
        blocks.append(x[start : start + size])
        start = start + size
    return blocks
