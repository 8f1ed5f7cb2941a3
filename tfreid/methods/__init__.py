"""The methods tfreid trains, and the contract every method module keeps.

A method is one module (docs/design.md, "Methods: the method contract") with:

- `Params`: a dataclass of the method's own knobs (`method.params` in the config; loss weights,
  margins), checked in `__post_init__` with `ConfigError("method.params.<key>: ...")`.
- `check(cfg, params) -> None`: what the method needs of the rest of the config (a model it
  can train, a precision its optimizers take), raising `ConfigError` with one line naming the
  keys and the values expected. Every method has one (a method that trains any model says so
  in its docstring and does nothing), so `resolve` refuses a combination before any data is
  read; `build` may then take the config as checked.
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

`resolve(cfg)` finds the method, parses `method.params` and runs the method's `check`; every
tool calls it right after loading the config (`tfreid.cli.load_config`), and so do the
training run, the training loop and the restore for evaluation and export.
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
    """(the method module, its `Params` filled from `method.params`) of `cfg`, checked by
    the method's `check`."""
    if cfg.method.name not in METHODS:
        raise ConfigError(
            f"method.name: unknown method {shown(cfg.method.name)} (valid: "
            f"{', '.join(sorted(METHODS))})"
        )
    module = METHODS[cfg.method.name]
    params = from_dict(module.Params, cfg.method.params, "method.params")
    module.check(cfg, params)
    return module, params
