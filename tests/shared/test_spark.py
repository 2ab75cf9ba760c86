"""The local session's Python workers run the interpreter the job runs in, whatever `python3` on PATH is."""

from __future__ import annotations

import sys

import pandas as pd
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType


@pandas_udf(StringType())
def _worker_executable(ids: pd.Series) -> pd.Series:
    import sys as worker_sys

    return pd.Series([worker_sys.executable] * len(ids))


def test_python_workers_use_the_drivers_interpreter(spark) -> None:
    executables = {row[0] for row in spark.range(4).select(_worker_executable("id")).collect()}
    assert executables == {sys.executable}
