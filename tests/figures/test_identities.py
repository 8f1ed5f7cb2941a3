"""Which identities a picture shows (tfreid/figures/identities.py)."""

import pytest

from tfreid.data.samples import IR, RGB, Sample
from tfreid.figures.identities import pick_identities


def test_the_lowest_ids_with_both_modalities_and_their_first_images_by_path():
    samples = [
        Sample("b/7_rgb_2.png", 7, 1, RGB),
        Sample("b/7_rgb_1.png", 7, 1, RGB),
        Sample("a/7_ir.png", 7, 3, IR),
        Sample("a/2_rgb.png", 2, 1, RGB),  # no IR image: never shown
        Sample("c/9_ir_b.png", 9, 3, IR),
        Sample("c/9_ir_a.png", 9, 3, IR),
        Sample("c/9_rgb.png", 9, 1, RGB),
        Sample("d/12_rgb.png", 12, 1, RGB),
        Sample("d/12_ir.png", 12, 3, IR),
    ]
    rows = pick_identities(samples, 2)
    assert [(pid, rgb.path, ir.path) for pid, rgb, ir in rows] == [
        (7, "b/7_rgb_1.png", "a/7_ir.png"),
        (9, "c/9_rgb.png", "c/9_ir_a.png"),
    ]
    assert [pid for pid, _, _ in pick_identities(samples, 10)] == [7, 9, 12]


def test_a_set_without_both_modalities_is_refused():
    samples = [Sample("a.png", 1, 1, RGB), Sample("b.png", 2, 3, IR)]
    with pytest.raises(ValueError, match="no identity has both an RGB and an IR image"):
        pick_identities(samples, 4)
