"""VisionConfig: defaults parse, bad values fail with ConfigError naming the parameter."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, parse_config
from usecases.vision.config import VisionConfig


def test_defaults_and_overrides_parse() -> None:
    cfg = parse_config(VisionConfig, ["--classes=ok,bad", "--num_processes=1", "--color_mode=RGB"])
    assert cfg.classes == ("ok", "bad") and cfg.num_processes == 1 and cfg.channels == 3
    assert VisionConfig().channels == 1


@pytest.mark.parametrize("argv, message", [
    (["--image_folder=/a", "--image_table=t"], "not both"),
    (["--classes=only"], "at least two"),
    (["--min_epochs=40", "--max_epochs=30"], "min_epochs"),
    (["--val_fraction=0.5", "--test_fraction=0.5"], "sum to less than 1"),
    (["--backbone=vgg"], "backbone"),
    (["--accelerator=tpu"], "accelerator"),
    (["--batch_size=0"], "batch_size"),
])
def test_bad_values_are_rejected(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(VisionConfig, argv)
