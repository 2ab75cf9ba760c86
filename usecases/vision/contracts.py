"""Data contracts of the vision job's inputs: the training image list, and the logical names of its image inputs.

Images arrive as files, so most checks happen when they are decoded; a rejected image goes to the quarantine of
the input it came from: ``defect_images_quarantine`` (training set) or ``score_images_quarantine`` (new images).
"""

from __future__ import annotations

from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule

IMAGES = Contract(
    table="defect_images",
    columns=(ColumnSpec("path", "string"), ColumnSpec("label", "string")),
    rules=(RowRule("path is empty", lambda: F.length(F.trim("path")) > 0),),
    unique_key=("path",),
)
SCORE_IMAGES = "score_images"
