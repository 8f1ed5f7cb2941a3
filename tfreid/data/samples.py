"""The record every reader returns: one image file with its identity, camera and modality."""

from typing import NamedTuple

RGB = 0
IR = 1
MODALITY_NAMES = {RGB: "rgb", IR: "ir"}


class Sample(NamedTuple):
    """One image on disk.

    Attributes:
        path: absolute or root-relative path of the image file.
        pid: the data set's own person id (SYSU folder id, RegDB folder id).
        camid: camera number (SYSU 1-6; RegDB 1 = visible, 2 = thermal).
        modality: RGB (0) or IR (1).
    """

    path: str
    pid: int
    camid: int
    modality: int
