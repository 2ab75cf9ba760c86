"""The logged classifier: a models-from-code pyfunc that loads without this repository, takes image files (bytes or
base64 text, as Model Serving sends them), answers with class names, and tells incompatible models apart."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch

from tests.usecases.vision.bad_files import encoded
from usecases.vision.config import VisionConfig
from usecases.vision.logged_model import incompatibilities, log_classifier, model_metadata, model_spec
from usecases.vision.portable import build_network

ISOLATED_LOAD = Path(__file__).with_name("isolated_load.py")


def load_isolated(uri: str, tracking_uri: str, tmp_path: Path) -> dict:
    """Load ``uri`` with ``python -I`` from an empty folder, this repository's packages refused; the JSON it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    empty = tmp_path / "elsewhere"
    empty.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-I", str(ISOLATED_LOAD), uri], cwd=empty, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def logged(mlflow_store: str, tmp_path: Path) -> tuple[str, VisionConfig]:
    """An (untrained) classifier logged the way the train task logs one."""
    cfg = VisionConfig(classes=("ok", "dent", "pit"), image_size=16, color_mode="RGB", backbone="tiny_resnet", width=8)
    torch.manual_seed(0)
    with mlflow.start_run():
        info = log_classifier(build_network("tiny_resnet", 3, 3, 8), cfg, encoded("RGB"), tmp_path / "m")
    return info.model_uri, cfg


def test_the_model_loads_and_predicts_without_this_repository(logged, mlflow_store: str, tmp_path: Path) -> None:
    uri, cfg = logged
    result = load_isolated(uri, mlflow_store, tmp_path)
    assert result["repo_modules_loaded"] == []
    assert result["rows"] == 1 and result["columns"] == ["label", "probability", "reason"]
    assert result["labels"][0] in cfg.classes and result["reasons"] == [None]


def test_requirements_are_plain_pypi_pins_and_the_signature_takes_image_files(logged) -> None:
    uri, _ = logged
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    requirements = (local / "requirements.txt").read_text().split()
    names = {r.split("==")[0] for r in requirements}
    assert {"mlflow", "torch", "pillow", "numpy", "pandas"} <= names
    assert all("==" in r and "+" not in r and "/" not in r for r in requirements)  # no local builds, paths or URLs
    assert not (local / "code").exists()  # nothing of this repository beside the model's own file
    model = mlflow.models.Model.load(str(local))
    assert model.signature.inputs.to_dict() == [{"type": "binary", "name": "image", "required": True}]
    assert json.loads((local / "serving_input_example.json").read_text())["dataframe_split"]["columns"] == ["image"]


def test_predict_takes_bytes_or_base64_and_gives_reasons_for_bad_files(logged) -> None:
    uri, cfg = logged
    model = mlflow.pyfunc.load_model(uri)
    image = encoded("RGB", "JPEG", size=(40, 30))
    out = model.predict(pd.DataFrame({"image": [image, base64.b64encode(image).decode("ascii"), b"", None]}))
    assert out["label"][0] in cfg.classes and out["label"][0] == out["label"][1]
    assert out["probability"][0] == pytest.approx(out["probability"][1]) and 1 / 3 <= out["probability"][0] <= 1
    assert out["reason"].tolist()[:2] == [None, None]
    assert out["reason"].tolist()[2:] == ["empty file (0 bytes)", "file could not be read"]
    assert out["label"].tolist()[2:] == [None, None]


def test_compatibility_is_classes_as_a_set_image_size_and_colour_mode(logged) -> None:
    uri, cfg = logged
    meta = model_metadata(uri)
    assert meta == model_spec(cfg)
    assert incompatibilities(meta, ("pit", "ok", "dent"), 16, "RGB") == []  # it answers with names: order is free
    problems = incompatibilities(meta, ("clean", "crack"), 32, "L")
    assert len(problems) == 3 and "classes ok,dent,pit" in problems[0] and "16 px" in problems[1]
    old = {"classes": ["a", "b"], "image_size": 16, "color_mode": "RGB"}  # a pickled model of an earlier release
    assert "pickled network" in incompatibilities(old, ("a", "b"), 16, "RGB")[0]
