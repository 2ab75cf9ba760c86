"""Parameters of the vision job (one field per job parameter in resources/vision.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig, param

BACKBONES = ("compact_cnn", "tiny_resnet")
ACCELERATORS = ("auto", "cpu", "gpu")
COLOR_MODES = ("L", "RGB")
# Label-preserving random changes applied to training batches only (never to validation, test or scoring):
#   none       no augmentation
#   shift      a random translation of up to 1/8 of the side per image (edges replicated): for objects that may
#              sit anywhere in the frame (digits, parts not centred)
#   flip       random horizontal and vertical flips: for textures and defects with no orientation (not digits)
#   shift_flip both
AUGMENTATIONS = ("none", "shift", "flip", "shift_flip")
# Pillow's own decompression-bomb warning threshold (Image.MAX_IMAGE_PIXELS): max_image_pixels may not exceed it.
PILLOW_MAX_IMAGE_PIXELS = 89_478_485


@dataclass(frozen=True)
class VisionConfig(JobConfig):
    """Vision job parameters: where images are, how they are prepared, how the classifier is trained and scored.

    ``image_folder`` holds ``<label>/<file>`` PNG/JPEG files (empty: the generated set in the job's data folder);
    ``image_table`` is an alternative (path, label) table or CSV/Parquet file and wins when set.
    """

    image_folder: str = param("", "input: folder of <label>/<file> PNG/JPEG training images (empty: the generated "
                              "set in the job's volume)")
    image_table: str = param("", "input (instead of image_folder): a (path, label) table or CSV/Parquet file")
    score_folder: str = param("", "input: folder of new images to classify (empty: the generated set in the "
                              "job's volume)")
    prepared_table: str = param("defect_images_prepared", "output: decoded, resized, labelled and split images")
    predictions_table: str = param("image_predictions", "output: the predicted class and probability per image")
    registered_model: str = param("defect_classifier", "registered model name (catalog.schema.<this>)")
    classes: tuple[str, ...] = param(("clean", "crack", "scratch", "spot"), "the labels to learn, in order")
    n_images: int = param(800, "training images the generate task writes")
    n_score_images: int = param(40, "new images the generate task writes for the score task")
    generated_size: int = param(64, "side in pixels of generated images")
    image_size: int = param(32, "side in pixels images are resized to for training and scoring")
    color_mode: str = param("L", "L (grayscale) or RGB")
    max_image_pixels: int = param(40_000_000, "refuse (quarantine) an image whose header claims more pixels than "
                                  "this, before decoding it (decompression-bomb guard)")
    val_fraction: float = param(0.15, "share of images for validation (early stopping)")
    test_fraction: float = param(0.2, "share of images held out for the test accuracy")
    backbone: str = param("compact_cnn", "network: compact_cnn or tiny_resnet")
    width: int = param(16, "channels of the network's first layer (later layers scale from it)")
    backbone_weights: str = param("", "optional state_dict file to start from (a pretrained backbone)")
    augment: str = param("none", "random changes to training batches only: none, shift (translate up to 1/8 of "
                         "the side), flip (horizontal/vertical) or shift_flip")
    batch_size: int = param(32, "images per training step per process")
    learning_rate: float = param(0.002, "learning rate per process (scaled by the number of processes)")
    max_epochs: int = param(30, "most training epochs")
    min_epochs: int = param(8, "epochs before early stopping may stop training")
    patience: int = param(4, "epochs without validation improvement before stopping")
    min_delta: float = param(0.005, "smallest validation-loss decrease that counts as improvement")
    num_processes: int = param(2, "data-parallel training processes (capped at the GPU count on GPUs)")
    accelerator: str = param("auto", "auto (GPU when present), cpu or gpu")
    local_mode: bool = param(True, "train on the driver node (true) or on Spark workers (false)")
    max_accuracy_drop: float = param(0.1, "score warns when accuracy on class-named score folders is, beyond "
                                     "sampling noise, more than this below the model's test accuracy")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_folder and self.image_table:
            raise ConfigError("set image_folder or image_table, not both")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"classes must name at least two distinct labels, got {self.classes}")
        for name in ("n_images", "n_score_images", "image_size", "generated_size", "width", "batch_size",
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
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if not 1 <= self.max_image_pixels <= PILLOW_MAX_IMAGE_PIXELS:
            raise ConfigError(f"max_image_pixels must be in [1, {PILLOW_MAX_IMAGE_PIXELS}], "
                              f"got {self.max_image_pixels}")
        if not 0 <= self.max_accuracy_drop <= 1:
            raise ConfigError(f"max_accuracy_drop must be in [0, 1], got {self.max_accuracy_drop}")
        if self.color_mode not in COLOR_MODES:
            raise ConfigError(f"color_mode must be one of {COLOR_MODES}, got {self.color_mode!r}")

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "L" else 3
