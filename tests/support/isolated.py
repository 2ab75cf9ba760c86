"""Load a registered MLflow model the way a serving endpoint or another workspace would: without this project.

``predict_isolated`` runs a fresh interpreter in isolated mode (``python -I``: no PYTHONPATH, no user site, no
current folder on sys.path) from an empty temporary folder, with an import hook that makes ``usecases`` and
``shared`` unimportable (the project is installed in editable mode in the test environment, so merely leaving it
off PYTHONPATH is not enough). There it loads the model with ``mlflow.pyfunc.load_model`` and predicts on an
example: the model's own logged input example, or one the caller saved as Parquet (DataFrame input) or ``.npy``
(tensor input). A model that pickled a reference to this project's code fails there with an ImportError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_PACKAGES = ("usecases", "shared")

_SCRIPT = r"""
import json, sys

BLOCKED = set(sys.argv[3].split(","))


class _BlockProject:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is this project's code: a model must load without it")
        return None


sys.meta_path.insert(0, _BlockProject())

import mlflow
import numpy as np
import pandas as pd

uri, example_path = sys.argv[1], sys.argv[2]
model = mlflow.pyfunc.load_model(uri)
if example_path.endswith(".parquet"):
    example = pd.read_parquet(example_path)
elif example_path.endswith(".npy"):
    example = np.load(example_path)
else:
    example = model.input_example
    if example is None:
        raise SystemExit("the model has no logged input example and the test gave none")
out = model.predict(example)
rows = len(out) if hasattr(out, "__len__") else -1
columns = list(out.columns) if isinstance(out, pd.DataFrame) else []
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("RESULT " + json.dumps({"rows": int(rows), "columns": columns, "example_rows": len(example),
                              "project_modules_loaded": loaded}))
"""


def predict_isolated(model_uri: str, tracking_uri: str, example_path: str | os.PathLike[str] | None = None,
                     timeout: float = 600) -> dict:
    """Load ``model_uri`` and predict in a project-free interpreter; return rows/columns of the prediction.

    Raises AssertionError with the subprocess's stderr when loading or predicting fails.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "USECASES_"))}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["MLFLOW_REGISTRY_URI"] = tracking_uri
    with tempfile.TemporaryDirectory(prefix="isolated-model-") as cwd:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _SCRIPT, model_uri, str(example_path or ""), ",".join(PROJECT_PACKAGES)],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )
        leftovers = sorted(p.name for p in Path(cwd).iterdir())
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise AssertionError(f"loading {model_uri} without this project failed (exit {done.returncode}):\n"
                             f"{done.stderr[-4000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result["files_left_in_cwd"] = leftovers
    return result
