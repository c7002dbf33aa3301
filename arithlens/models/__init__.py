"""Models: presets, training, checkpoints and the bundled zoo (load any of them with
:func:`arithlens.load`).

Example:
    >>> from arithlens import models
    >>> sorted(models.PRESETS)
    ['1L', '2L', '3L', '4L']
"""

from arithlens.models.checkpoint import read_metadata, save
from arithlens.models.contract import arithmetic_encoder, check_task, encoder_of
from arithlens.models.presets import PRESETS, boot, build_model, preset_spec
from arithlens.models.records import POSITIONALS, ModelSpec, TrainRecord
from arithlens.models.train import TrainConfig, completion_loss, score_digits, train

__all__ = [
    "POSITIONALS",
    "PRESETS",
    "ModelSpec",
    "TrainConfig",
    "TrainRecord",
    "arithmetic_encoder",
    "boot",
    "build_model",
    "check_task",
    "completion_loss",
    "encoder_of",
    "preset_spec",
    "read_metadata",
    "save",
    "score_digits",
    "train",
]

from arithlens.models import zoo  # noqa: E402

__all__ += ["zoo"]
