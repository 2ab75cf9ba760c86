"""Image decoding and the prepared-image table: decode + resize in mapInPandas, label checks, stratified split."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import pandas as pd
from PIL import Image, UnidentifiedImageError
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, IntegerType, StringType, StructField, StructType

# Source modes that convert to L/RGB without guessing (CMYK, 16/32-bit and float images are refused).
ACCEPTED_MODES = ("1", "L", "LA", "P", "RGB", "RGBA")
MAX_SOURCE_PIXELS = 40_000_000  # refuse decompression bombs before decoding

DECODED_SCHEMA = StructType([
    StructField("path", StringType(), False),
    StructField("label", StringType(), True),
    StructField("source_mode", StringType(), True),
    StructField("pixels", BinaryType(), True),
    StructField("reason", StringType(), True),
])
SPLITS = ("train", "val", "test")


def decode_image(content: bytes | None, size: int, mode: str) -> tuple[bytes | None, str | None, str | None]:
    """Decode PNG/JPEG bytes and resize to ``size`` x ``size`` in ``mode`` ('L' or 'RGB').

    Returns (pixels as row-major uint8 bytes, HWC for RGB; source mode; reason). Exactly one of pixels and
    reason is None: a file that cannot be decoded or has an unsupported mode gets a reason instead of raising.
    """
    if content is None:
        return None, None, "file could not be read"
    try:
        with Image.open(io.BytesIO(content)) as img:
            source_mode = img.mode
            if img.format not in ("PNG", "JPEG"):
                return None, source_mode, f"not a PNG or JPEG image (format {img.format})"
            if img.width * img.height > MAX_SOURCE_PIXELS:
                return None, source_mode, f"image too large ({img.width}x{img.height})"
            if source_mode not in ACCEPTED_MODES:
                return None, source_mode, f"unsupported image mode {source_mode}"
            img.load()  # a truncated or corrupt file fails here, not later
            resized = img.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
            return resized.tobytes(), source_mode, None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return None, None, f"cannot decode image: {type(exc).__name__}: {exc}"[:300]


def read_file_bytes(path: str) -> bytes | None:
    """Bytes of a local or mounted (/Volumes, /dbfs) file; None when it cannot be read."""
    local = path
    for scheme in ("file:", "dbfs:"):  # Spark's URIs for local files and for /Volumes on Databricks
        if local.startswith(scheme):
            local = local[len(scheme):]
    try:
        with open(local, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def decode_batches(batches: Iterator[pd.DataFrame], size: int, mode: str) -> Iterator[pd.DataFrame]:
    """mapInPandas body: (path, label, content | null) -> DECODED_SCHEMA; a null content is read from path."""
    for pdf in batches:
        rows = []
        for path, label, content in zip(pdf["path"], pdf["label"], pdf["content"], strict=True):
            data = read_file_bytes(path) if content is None else bytes(content)
            pixels, source_mode, reason = decode_image(data, size, mode)
            rows.append((path, label, source_mode, pixels, reason))
        yield pd.DataFrame(rows, columns=DECODED_SCHEMA.fieldNames())


def images_from_folder(spark, root: str) -> DataFrame:  # noqa: ANN001 - SparkSession
    """Every file under ``root`` as (path, label, content); label = the name of the file's parent folder."""
    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(root)
    return files.select(
        F.col("path"), F.element_at(F.split("path", "/"), -2).alias("label"), F.col("content"),
    )


def images_from_table(listing: DataFrame) -> DataFrame:
    """A (path, label) table as (path, label, content=null): the decoder reads each file itself."""
    return listing.select("path", "label", F.lit(None).cast(BinaryType()).alias("content"))


def decode_images(images: DataFrame, size: int, mode: str) -> DataFrame:
    """(path, label, content) -> DECODED_SCHEMA rows, one per input row, decoded in Python workers."""
    return images.mapInPandas(lambda it: decode_batches(it, size, mode), DECODED_SCHEMA)


def flag_unknown_labels(decoded: DataFrame, classes: Sequence[str]) -> DataFrame:
    """Set ``reason`` for rows whose label is not one of ``classes`` (the decode reason, if any, comes first)."""
    known = F.col("label").isin(list(classes))
    unknown = F.concat(F.lit("unknown label '"), F.coalesce(F.col("label"), F.lit("<null>")),
                       F.lit(f"' (expected one of {', '.join(classes)})"))
    return decoded.withColumn("reason", F.coalesce(F.col("reason"), F.when(~known | F.col("label").isNull(), unknown)))


def assign_splits(df: DataFrame, val_fraction: float, test_fraction: float, seed: int) -> DataFrame:
    """Add ``split`` (train/val/test), stratified by ``label`` and seeded: each label's rows are ordered by a
    seeded hash of ``path`` and the first ceil(test_fraction * n) go to test, the next ones to val."""
    order = Window.partitionBy("label").orderBy(F.xxhash64(F.col("path"), F.lit(seed)), F.col("path"))
    position = (F.row_number().over(order) - 1) / F.count(F.lit(1)).over(Window.partitionBy("label"))
    split = F.when(position < test_fraction, "test").when(position < test_fraction + val_fraction, "val")
    return df.withColumn("split", split.otherwise("train"))


def prepared_rows(valid: DataFrame, classes: Sequence[str], size: int, channels: int) -> DataFrame:
    """The prepared table: path, label, label_index, split, source_mode, image_size, channels, pixels."""
    index = F.array_position(F.array(*[F.lit(c) for c in classes]), F.col("label")) - 1
    return valid.select(
        "path", "label", index.cast(IntegerType()).alias("label_index"), "split", "source_mode",
        F.lit(size).alias("image_size"), F.lit(channels).alias("channels"), "pixels",
    )
