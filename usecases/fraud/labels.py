"""Training labels: SME rules from a versioned SQL file applied in Spark SQL, overridden by human review labels."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType

from shared.config import ConfigError
from usecases.fraud.sampling import transaction_key

DEFAULT_RULES = "sme_rules_v1.sql"
_RULE_HEADER = re.compile(r"^\s*--\s*rule:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


@dataclass(frozen=True)
class LabelRule:
    """One SME rule: a name and a Spark SQL boolean expression over transaction columns."""

    name: str
    expression: str


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file plus its version (file name and content hash), logged with every model."""

    source: str
    sha256: str
    rules: tuple[LabelRule, ...]


def parse_rules(text: str, source: str) -> RuleSet:
    """Parse ``-- rule: name`` headers each followed by one expression ending in ``;``."""
    rules: list[LabelRule] = []
    name: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        header = _RULE_HEADER.match(line)
        if header:
            name, body = header.group(1), []
            continue
        if name is None or line.strip().startswith("--") or not line.strip():
            continue
        body.append(line.strip())
        if line.rstrip().endswith(";"):
            rules.append(LabelRule(name, " ".join(body).rstrip(";").strip()))
            name, body = None, []
    if name is not None:
        raise ConfigError(f"{source}: rule {name!r} does not end with ';'")
    if not rules:
        raise ConfigError(f"{source}: no rules found (expected '-- rule: <name>' then an expression ending in ';')")
    if len({r.name for r in rules}) != len(rules):
        raise ConfigError(f"{source}: rule names must be unique")
    return RuleSet(source, hashlib.sha256(text.encode()).hexdigest()[:16], tuple(rules))


def load_rules(path: str = "") -> RuleSet:
    """The rules file at ``path``, or the packaged default (``rules/sme_rules_v1.sql``) when empty."""
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"label_rules_file {path!r} does not exist")
        return parse_rules(Path(path).read_text(), path)
    text = resources.files("usecases.fraud.rules").joinpath(DEFAULT_RULES).read_text()
    return parse_rules(text, DEFAULT_RULES)


def _analysis_message(exc: AnalysisException, columns: list[str]) -> str:
    """One line from Spark's analysis error: the unknown column and what exists, else the error's first line."""
    condition = (exc.getCondition() if hasattr(exc, "getCondition") else exc.getErrorClass()) or ""
    params = exc.getMessageParameters() or {}
    if condition.startswith("UNRESOLVED_COLUMN"):
        return f"column {params.get('objectName', '?')} does not exist (columns: {', '.join(columns)})"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else condition
    return first[:300]


@contextmanager
def _quiet_query_context_log() -> Iterator[None]:
    """PySpark logs every analysis error with its query context (a JSON line on stderr) as it raises it; a rule
    we are about to report as one clear line must not print that too."""
    loggers = [logging.getLogger(n) for n in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def check_rules(df: DataFrame, rules: RuleSet) -> None:
    """Resolve every rule against ``df``'s columns now, one rule at a time, so a bad rule is one clear line.

    Raises ConfigError naming the rules file, the rule and the problem (an unknown column, a syntax error, a
    non-boolean expression) instead of letting Spark fail later with a plan dump of the whole job.
    """
    for rule in rules.rules:
        try:
            with _quiet_query_context_log():
                field = df.select(F.expr(rule.expression).alias("check")).schema["check"]
        except AnalysisException as exc:
            raise ConfigError(f"label_rules_file {rules.source}: rule {rule.name!r}: "
                              f"{_analysis_message(exc, df.columns)}") from None
        if not isinstance(field.dataType, BooleanType):
            raise ConfigError(f"label_rules_file {rules.source}: rule {rule.name!r} must be a boolean condition, "
                              f"it gives {field.dataType.simpleString()}")


def apply_rules(df: DataFrame, rules: RuleSet) -> DataFrame:
    """Add ``rule_label`` (0/1: any rule true; NULL counts as false) and ``rule_hit`` (first matching rule name).

    The rules are checked against ``df`` first (``check_rules``): a bad rule is a ConfigError, not a plan dump.
    """
    check_rules(df, rules)
    checks = [(r.name, F.coalesce(F.expr(r.expression), F.lit(False))) for r in rules.rules]
    hit = F.lit(None).cast("string")
    for name, check in reversed(checks):
        hit = F.when(check, F.lit(name)).otherwise(hit)
    return df.withColumn("rule_hit", hit).withColumn("rule_label", F.col("rule_hit").isNotNull().cast("int"))


REVIEW_KEY = "_review_transaction_id"


def latest_review_labels(reviews: DataFrame) -> DataFrame:
    """One row per transaction: the most recent review (``_review_transaction_id`` as text, ``review_label``,
    ``reviewer``)."""
    key = transaction_key()
    order = Window.partitionBy(key).orderBy(F.col("reviewed_at").desc(), F.col("reviewer").desc())
    return (
        reviews.withColumn("_n", F.row_number().over(order)).filter("_n = 1")
        .select(key.alias(REVIEW_KEY), F.col("label").alias("review_label"), "reviewer")
    )


def resolve_labels(df: DataFrame, rules: RuleSet, reviews: DataFrame | None) -> DataFrame:
    """Add ``label`` and ``label_source``: a human review wins, then a label given in the input, then the rules."""
    labelled = apply_rules(df, rules)
    if reviews is None:
        labelled = labelled.withColumn("review_label", F.lit(None).cast("int"))
    else:
        latest = latest_review_labels(reviews).drop("reviewer")
        labelled = (labelled.join(latest, transaction_key() == F.col(REVIEW_KEY), "left").drop(REVIEW_KEY))
    given = F.col("label") if "label" in df.columns else F.lit(None).cast("int")
    return (
        labelled.withColumn("label_source", F.when(F.col("review_label").isNotNull(), F.lit("review"))
                            .when(given.isNotNull(), F.lit("input")).otherwise(F.lit("rules")))
        .withColumn("label", F.coalesce(F.col("review_label"), given, F.col("rule_label")).cast("int"))
        .drop("review_label")
    )
