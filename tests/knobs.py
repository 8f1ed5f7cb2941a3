"""Tiny configs set small model widths, but a head or structure refuses a knob it does not
read (tfreid.config.STRUCTURE_KNOB_READERS): a harness sets each knob only where it is read."""

import dataclasses

from tfreid.config import STRUCTURE_KNOB_READERS, ModelConfig


def read_knobs(overrides, **knobs) -> list[str]:
    """`model.KEY=VALUE` for each of `knobs` that the head and structure chosen in `overrides`
    (the last `model.head=` / `model.structure=` there, else the default) read."""
    chosen = {field.name: field.default for field in dataclasses.fields(ModelConfig)}
    for override in overrides:
        key, _, value = override.partition("=")
        if key.startswith("model."):
            chosen[key.removeprefix("model.")] = value
    return [
        f"model.{key}={value}"
        for key, value in knobs.items()
        if chosen[STRUCTURE_KNOB_READERS[key][0]] in STRUCTURE_KNOB_READERS[key][1]
    ]
