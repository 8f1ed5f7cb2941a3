"""Generator styles and views: what a pose shows and hides, how much images vary, and styles
that differ as another generator would."""

import dataclasses
import os

import numpy as np
import pytest
from tools_harness import run

from tfreid.data import pedestrians, render, styles, synthetic, sysu

DEFAULT = styles.STYLES["default"]
H, W = 128, 64


def pose(yaw=0.0, **changes):
    base = pedestrians.Pose(
        0.9, 0.05, 0.0, yaw, (0.15, 0.15), (0.02, 0.02), 0.0, 1.0, True, (0.0, 1.0, 0.0)
    )
    return base._replace(**changes)


def marked_person(pattern, bag="none", seed=0):
    """A person whose only dark infrared is the top's pattern tone (and the bag, if any)."""
    wardrobe = pedestrians.draw_wardrobe(np.random.default_rng(seed))
    person = pedestrians.draw_person(np.random.default_rng([seed, 1]), wardrobe, DEFAULT)
    tones = person.tones.copy()
    tones[:, :, 3] = 0.9
    tones[pedestrians.UPPER, 1, 3] = 0.05
    tones[pedestrians.BAG, :, 3] = 0.05
    patterns = person.patterns.copy()
    patterns[pedestrians.UPPER] = pattern
    patterns[pedestrians.LOWER, 0] = styles.PLAIN
    return dataclasses.replace(
        person, tones=tones, patterns=patterns, bag=bag, hat="none", sleeves="none"
    )


def dark_pixels(person, view):
    """Pixels of the person whose infrared is the dark tone (shading keeps the rest > 0.5)."""
    layer, alpha = render.render_person(person, view, H, W)
    return int(((layer[..., 3] < 0.25 * alpha) & (alpha > 0.5)).sum())


CHEST_PRINT = np.array([styles.PRINT, 0.0, 0.45, 0.0])
STRIPES = np.array([styles.H_STRIPES, 3.0, 0.5, 0.0])


def test_a_chest_print_turns_away_with_the_body_and_stripes_do_not():
    printed, striped = marked_person(CHEST_PRINT), marked_person(STRIPES)
    yaws = {"front": 0.0, "three_quarter": 0.7, "side": np.pi / 2, "back": np.pi}
    prints = {name: dark_pixels(printed, pose(yaw)) for name, yaw in yaws.items()}
    stripes = {name: dark_pixels(striped, pose(yaw)) for name, yaw in yaws.items()}
    assert prints["front"] > 40 and prints["back"] == 0 and prints["side"] < 5, prints
    assert 0 < prints["three_quarter"] < prints["front"], prints
    assert min(stripes.values()) > 100, stripes  # stripes go all the way round


def test_a_backpack_shows_from_behind_only_its_straps_from_the_front():
    person = marked_person(np.array([styles.PLAIN, 0.0, 0.5, 0.0]), bag="backpack")
    front, back = dark_pixels(person, pose(0.0)), dark_pixels(person, pose(np.pi))
    side = dark_pixels(person, pose(np.pi / 2))
    assert back > 4 * front > 0 and 0 < side < back, (front, side, back)
    assert dark_pixels(person, pose(np.pi, bag_shown=False)) == 0  # a bag out of sight


def test_poses_vary_scale_position_view_and_crop():
    """The shortcut of the first generator: every person stood alike in the same box."""
    rng = np.random.default_rng(0)
    person = marked_person(STRIPES)
    boxes = []
    for _ in range(120):
        _, alpha = render.render_person(person, pedestrians.draw_pose(rng, DEFAULT), H, W)
        rows, cols = np.nonzero(alpha > 0.5)
        boxes.append((rows.min(), rows.max(), cols.min(), cols.max()))
    top, bottom, left, right = np.array(boxes).T
    assert np.std(bottom - top) > 6 and np.std((left + right) / 2) > 3
    assert np.std(right - left) > 3  # turned sideways or facing the camera
    cut = np.mean((top == 0) | (bottom == H - 1))
    assert 0.05 < cut < 0.4, cut  # some boxes cut off the head or the feet


def test_style_lookup_names_the_known_styles():
    assert styles.get_style("night") is styles.STYLES["night"]
    with pytest.raises(ValueError, match="style must be one of default, blocky, night, got 'x'"):
        styles.get_style("x")
    with pytest.raises(ValueError, match="style must be one of"):
        synthetic.write_sysu("unused", 5, style="x")
    done = run("make_synthetic", "o", "--format", "sysu", "--style", "x")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "invalid choice: 'x'" in done.stderr


def test_other_styles_draw_what_the_default_never_does():
    """Pattern kinds, body primitives: another style is not a subset of the default."""
    default_kinds = set(DEFAULT.upper_kinds) | set(DEFAULT.lower_kinds)
    for name, style in styles.STYLES.items():
        if name == "default":
            continue
        new = (set(style.upper_kinds) | set(style.lower_kinds)) - default_kinds
        assert len(new) >= 2, (name, new)
    blocky = styles.STYLES["blocky"]
    assert blocky.blocky and not DEFAULT.blocky
    round_one = marked_person(STRIPES)
    boxy = dataclasses.replace(round_one, blocky=True)
    _, round_alpha = render.render_person(round_one, pose(), H, W)
    _, boxy_alpha = render.render_person(boxy, pose(), H, W)
    assert boxy_alpha.sum() > 1.05 * round_alpha.sum()  # boxes fill their corners


@pytest.mark.parametrize("name", sorted(styles.STYLES))
def test_every_style_writes_a_readable_set(tmp_path, name):
    root = synthetic.write_sysu(str(tmp_path / name), 5, 0, 32, 16, style=name)
    samples = sysu.train_samples(root) + sysu.query_samples(root)
    assert {s.modality for s in samples} == {0, 1}
    assert all(os.path.getsize(s.path) > 0 for s in samples)
