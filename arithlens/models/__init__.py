"""Models: presets, training, checkpoints and the bundled zoo (load any of them with
:func:`arithlens.load`).

Example:
    >>> from arithlens import models
    >>> sorted(models.PRESETS)
    ['1L', '2L', '3L', '4L']
"""

from arithlens.models.checkpoint import read_metadata, save
from arithlens.models.presets import POSITIONALS, PRESETS, ModelSpec, boot, build_model, preset_spec
from arithlens.models.train import TrainConfig, TrainRecord, completion_loss, score_digits, train

__all__ = [
    "POSITIONALS",
    "PRESETS",
    "ModelSpec",
    "TrainConfig",
    "TrainRecord",
    "boot",
    "build_model",
    "completion_loss",
    "preset_spec",
    "read_metadata",
    "save",
    "score_digits",
    "train",
]

from arithlens.models import zoo  # noqa: E402

__all__ += ["zoo"]
