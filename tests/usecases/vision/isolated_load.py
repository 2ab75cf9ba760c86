"""Run as a script (``python -I isolated_load.py MODEL_URI``): load an MLflow model where this repository's packages
cannot be imported, predict on the model's own logged input example, print the result as one JSON line.

A meta-path finder refuses ``usecases`` and ``shared`` (the venv may hold an editable install of them, which
``-I`` alone would not hide), so the load succeeds only if the model needs nothing but its pip requirements.
"""

from __future__ import annotations

import importlib.abc
import json
import sys

BLOCKED = ("usecases", "shared")


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # the finder protocol
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"import of {name} refused: the model must load without this repository")
        return None


def main(uri: str) -> None:
    sys.meta_path.insert(0, Refuse())
    import mlflow
    from mlflow.models import Model

    local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    example = Model.load(local).load_input_example(local)
    out = mlflow.pyfunc.load_model(local).predict(example)
    print(json.dumps({"rows": len(out), "columns": list(out.columns), "labels": out["label"].tolist(),
                      "reasons": out["reason"].tolist(),
                      "repo_modules_loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))


if __name__ == "__main__":
    main(sys.argv[1])
