"""Parameters of the vision job (one field per job parameter in resources/vision.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig

BACKBONES = ("compact_cnn", "tiny_resnet")
ACCELERATORS = ("auto", "cpu", "gpu")
COLOR_MODES = ("L", "RGB")


@dataclass(frozen=True)
class VisionConfig(JobConfig):
    """Vision job parameters: where images are, how they are prepared, how the classifier is trained and scored.

    ``image_folder`` holds ``<label>/<file>`` PNG/JPEG files (empty: the generated set in the job's data folder);
    ``image_table`` is an alternative (path, label) table or CSV/Parquet file and wins when set.
    """

    image_folder: str = ""
    image_table: str = ""
    score_folder: str = ""
    prepared_table: str = "defect_images_prepared"
    predictions_table: str = "image_predictions"
    registered_model: str = "defect_classifier"
    classes: tuple[str, ...] = ("clean", "crack", "scratch", "spot")
    num_images: int = 800
    score_images: int = 40
    generated_size: int = 64
    image_size: int = 32
    color_mode: str = "L"
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    backbone: str = "compact_cnn"
    width: int = 16
    backbone_weights: str = ""
    batch_size: int = 32
    learning_rate: float = 0.002
    max_epochs: int = 30
    min_epochs: int = 8
    patience: int = 4
    min_delta: float = 0.005
    num_processes: int = 2
    accelerator: str = "auto"
    local_mode: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_folder and self.image_table:
            raise ConfigError("set image_folder or image_table, not both")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"classes must name at least two distinct labels, got {self.classes}")
        for name in ("num_images", "score_images", "image_size", "generated_size", "width", "batch_size",
                     "max_epochs", "num_processes", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.min_epochs <= self.max_epochs:
            raise ConfigError(f"min_epochs must be in [0, max_epochs={self.max_epochs}], got {self.min_epochs}")
        fractions = (self.val_fraction, self.test_fraction)
        if not (all(0 < f < 1 for f in fractions) and sum(fractions) < 1):
            raise ConfigError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1")
        if self.learning_rate <= 0 or self.min_delta < 0:
            raise ConfigError("learning_rate must be > 0 and min_delta >= 0")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.accelerator not in ACCELERATORS:
            raise ConfigError(f"accelerator must be one of {ACCELERATORS}, got {self.accelerator!r}")
        if self.color_mode not in COLOR_MODES:
            raise ConfigError(f"color_mode must be one of {COLOR_MODES}, got {self.color_mode!r}")

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "L" else 3
