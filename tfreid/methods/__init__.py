"""The methods tfreid trains: name -> module with `Params`, `build`, `train_step` (DESIGN.md).

A method module may also define `embed(parts, images, modality)` when its inference differs
from `parts.nets["model"].embed`.
"""

from tfreid.methods import fmsp, softmax

METHODS = {
    "softmax": softmax,
    "fmsp": fmsp,
}
