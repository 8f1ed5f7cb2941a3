"""The methods tfreid trains, and the contract every method module keeps.

A method is one module (DESIGN.md) with:

- `Params`: a dataclass of the method's own knobs (`method.params` in the config; loss weights,
  margins), checked in `__post_init__` with `ConfigError("method.params.<key>: ...")`.
- `build(cfg, params, num_classes, make_optimizer) -> Parts` (`tfreid.methods.base.Parts`):
  the networks (`nets`, by name), their optimizers (`optimizers`, by name) and the network
  export and evaluation use (`serving`, a ReID model of the `tfreid.models` contract).
  `make_optimizer(variables, lr_scale=1.0, settings=None)` comes from the training package
  (`tfreid.training.optimizers.optimizer_factory`) with the run's schedule inside, so a method
  never reads the schedule; `settings` (an `OptimizerConfig`) replaces the `optimizer` section
  for a network trained otherwise (TS-GAN's generators). `make_optimizer` is None when a
  checkpoint is restored for evaluation or export: build the networks, no optimizer.
- `train_step(parts, batch, params) -> {"loss/total": ..., "loss/<name>": ...}`: one update of
  every network the method trains, run by the loop inside `strategy.run`. Per-sample losses are
  reduced once with `base.mean_over_batch`, per-replica scalars with `base.mean_over_replicas`;
  the loop sums the returned values over replicas and logs every one of them.

- optional `epoch_hook(cfg, params, samples) -> Callable | None`: a function
  `hook(epoch, parts, writer)` the loop calls after every epoch's checkpoint (TS-GAN writes
  its translations of fixed training images to TensorBoard), or None.

`resolve(cfg)` finds the method and parses `method.params` once; every tool calls it right
after loading the config, and so does the training loop.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tfreid.config import Config, ConfigError, from_dict
from tfreid.errors import shown
from tfreid.methods import base_derivative, fmsp, hpiln, softmax, tsgan

METHODS: dict[str, ModuleType] = {
    "softmax": softmax,
    "fmsp": fmsp,
    "hpiln": hpiln,
    "base_derivative": base_derivative,
    "tsgan": tsgan,
}


def resolve(cfg: Config) -> tuple[ModuleType, Any]:
    """(the method module, its `Params` filled from `method.params`) of `cfg`."""
    if cfg.method.name not in METHODS:
        raise ConfigError(
            f"method.name: unknown method {shown(cfg.method.name)} (valid: "
            f"{', '.join(sorted(METHODS))})"
        )
    module = METHODS[cfg.method.name]
    return module, from_dict(module.Params, cfg.method.params, "method.params")
