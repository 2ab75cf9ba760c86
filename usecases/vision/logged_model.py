"""The classifier as MLflow holds it: logged as models-from-code, checked for compatibility, scored on a test split.

A model is *compatible* with a job when it was logged in this format and reads the job's images the same way:
the same set of classes (it answers with class names, so their order does not matter), the same image size and
colour mode. Anything else cannot be compared with, or used for, the job's images: the champion/challenger gate
then raises ``IncompatibleModelError`` (the core promotes the challenger and tags the old version), and the score
task refuses to label images with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import PIL
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from shared.registry import IncompatibleModelError
from usecases.vision import portable
from usecases.vision.config import VisionConfig
from usecases.vision.data import iterate_split_pixels

SCORING_BATCH_ROWS = 256


def model_spec(cfg: VisionConfig) -> dict[str, Any]:
    """What the logged model needs besides its weights (its model config), also kept as its metadata."""
    return {"model_format": portable.MODEL_FORMAT, "classes": list(cfg.classes), "image_size": cfg.image_size,
            "color_mode": cfg.color_mode, "backbone": cfg.backbone, "width": cfg.width,
            "max_image_pixels": cfg.max_image_pixels}


def incompatibilities(meta: Mapping[str, Any], classes: Sequence[str], image_size: int, color_mode: str) -> list[str]:
    """Why a model (by its metadata) cannot classify images for these classes/size/mode; empty when it can."""
    found = meta.get("model_format")
    if found != portable.MODEL_FORMAT:
        was = found or "a pickled network that loads only beside this package (an earlier release)"
        return [f"it was logged as {was}, not as {portable.MODEL_FORMAT}"]
    problems = []
    model_classes = [str(c) for c in meta.get("classes", [])]
    if set(model_classes) != set(classes):
        problems.append(f"it knows classes {','.join(model_classes)}, the job's classes are {','.join(classes)}")
    if int(meta.get("image_size", -1)) != image_size:
        problems.append(f"it reads images at {meta.get('image_size')} px, the job at {image_size} px")
    if meta.get("color_mode") != color_mode:
        problems.append(f"it reads colour mode {meta.get('color_mode')}, the job {color_mode}")
    return problems


def model_metadata(uri: str) -> dict[str, Any]:
    """A logged or registered model's metadata, read without loading the model."""
    return dict(mlflow.models.get_model_info(uri).metadata or {})


def pip_requirements() -> list[str]:
    """What the model needs to load, all from PyPI: torch (without a local build tag such as +cpu), pillow,
    numpy and pandas at the versions it was trained with (MLflow adds itself)."""
    return [f"torch=={torch.__version__.split('+')[0]}", f"pillow=={PIL.__version__}", f"numpy=={np.__version__}",
            f"pandas=={pd.__version__}"]


SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("binary", portable.INPUT_COLUMN)]),
    outputs=Schema([ColSpec("string", "label", required=False), ColSpec("double", "probability", required=False),
                    ColSpec("string", "reason", required=False)]),
)


def log_classifier(net: torch.nn.Module, cfg: VisionConfig, example: bytes, scratch: Path) -> Any:
    """Log ``net`` to the active run as a models-from-code pyfunc (portable.py + a state_dict artifact).

    ``example`` is one encoded image (a test image), kept as the input example a serving request can copy.
    """
    spec = model_spec(cfg)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    # The weights must fit the network the spec describes, or the logged model would fail only when loaded.
    portable.build_network(cfg.backbone, cfg.channels, len(cfg.classes), cfg.width).load_state_dict(state)
    scratch.mkdir(parents=True, exist_ok=True)
    weights = scratch / "weights.pt"
    torch.save(state, weights)
    return mlflow.pyfunc.log_model(
        name="model", python_model=str(Path(portable.__file__)), artifacts={"weights": str(weights)},
        # Nested: MLflow logs a model config as run params, and flat keys would clash with the job's own params.
        model_config={portable.CONFIG_KEY: spec}, metadata=spec, signature=SIGNATURE,
        input_example=pd.DataFrame({portable.INPUT_COLUMN: [example]}), pip_requirements=pip_requirements(),
    )


def test_split_scorer(cfg: VisionConfig, test_dir: str) -> Callable[[str], float]:
    """``score(uri)``: the accuracy of any logged model on this run's exported test split, fed to it as PNG files.

    The split's pixels are already decoded and resized; a compatible model (same size and mode) re-reads them
    unchanged, so champion and challenger see identical inputs. An incompatible one raises IncompatibleModelError.
    Streams the split in batches: memory does not grow with its size.
    """
    classes = np.array(cfg.classes, dtype=object)

    def score(uri: str) -> float:
        problems = incompatibilities(model_metadata(uri), cfg.classes, cfg.image_size, cfg.color_mode)
        if problems:
            raise IncompatibleModelError("; ".join(problems))
        model = mlflow.pyfunc.load_model(uri)
        correct = total = 0
        for pixels, labels in iterate_split_pixels(test_dir, SCORING_BATCH_ROWS):
            files = [portable.encode_png(p, cfg.image_size, cfg.color_mode) for p in pixels]
            predicted = model.predict(pd.DataFrame({portable.INPUT_COLUMN: pd.Series(files, dtype=object)}))
            correct += int((predicted["label"].to_numpy(dtype=object) == classes[labels]).sum())
            total += len(labels)
        if total == 0:
            raise ValueError(f"the test split in {test_dir} is empty")
        return correct / total

    return score


def first_test_image(test_dir: str, cfg: VisionConfig) -> bytes:
    """One test image as a PNG file: the model's input example."""
    for pixels, _ in iterate_split_pixels(test_dir, 1):
        return portable.encode_png(pixels[0], cfg.image_size, cfg.color_mode)
    raise ValueError(f"the test split in {test_dir} is empty")
