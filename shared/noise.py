"""Keep known third-party chatter out of a run's output, at its source, so the project's own lines are readable.

Only messages that are known, understood and harmless are silenced here, each by its logger or its exact message;
the project's own warnings and every third-party error still show. ``usecases -v`` skips all of this.
"""

from __future__ import annotations

import logging
import warnings

# Loggers that narrate routine work at INFO (or announce tips) on every run.
CHATTY_LOGGERS = {
    "py4j": logging.ERROR,                 # gateway connection lines
    "TorchDistributor": logging.WARNING,   # "Started/Finished local training with N processes"
    "lightning.pytorch": logging.WARNING,  # "GPU available: False", distributed set-up banners, the litlogger tip
    "lightning.fabric": logging.WARNING,
    "cmdstanpy": logging.WARNING,          # one line per Prophet fit
    "prophet": logging.WARNING,
    "alembic": logging.WARNING,            # MLflow's SQLite schema set-up
}
# (message regex, category) of warnings that are known and harmless for this project.
KNOWN_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # pyspark Connect: our start-up settings were applied when the local server started; re-applying the static
    # ones on the client session fails harmlessly (see shared/spark.py).
    (r"Failed to set spark\.", UserWarning),
    (r"The SQL config '.*' is NOT supported in Spark Connect", UserWarning),
    # Lightning's own internal deprecation (its pytree helper), not our code's.
    (r".*isinstance\(treespec, LeafSpec\)` is deprecated", Warning),
)


def quiet_third_party() -> None:
    """Apply the levels and filters above (idempotent)."""
    for name, level in CHATTY_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
