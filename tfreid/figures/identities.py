"""Which identities a picture shows: the lowest ids that have images of both modalities."""

from __future__ import annotations

from collections.abc import Sequence

from tfreid.data.samples import IR, RGB, Sample
from tfreid.data.sampling import training_pids


def pick_identities(samples: Sequence[Sample], count: int) -> list[tuple[int, Sample, Sample]]:
    """(pid, first RGB sample, first IR sample) of the `count` lowest ids with both modalities,
    "first" in path order, so the same set always gives the same picture.

    Raises:
        ValueError: no identity has images of both modalities.
    """
    first = {}
    for sample in sorted(samples, key=lambda s: s.path):
        first.setdefault((sample.pid, sample.modality), sample)
    pids = training_pids(samples)[:count]
    if not pids:
        raise ValueError("no identity has both an RGB and an IR image to show")
    return [(pid, first[pid, RGB], first[pid, IR]) for pid in pids]
