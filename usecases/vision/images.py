"""Image files to the prepared-image table: every file listed, decoded in mapInPandas, labels checked, split.

Decoding itself (formats, modes, the decompression-bomb guard, the reasons) lives in ``portable.py``, the file the
logged model carries, so the job and a serving endpoint refuse the same files for the same reasons.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, IntegerType, StringType, StructField, StructType

from shared.spark import parallelism
from usecases.vision.portable import DEFAULT_MAX_IMAGE_PIXELS, decode_image

DECODED_SCHEMA = StructType([
    StructField("path", StringType(), False),
    StructField("label", StringType(), True),
    StructField("source_mode", StringType(), True),
    StructField("pixels", BinaryType(), True),
    StructField("reason", StringType(), True),
])
LISTING_SCHEMA = "path string, label string"
SPLITS = ("train", "val", "test")
# Listing rows per partition when decoding: enough partitions to use every core, small enough to spread the work.
LISTING_ROWS_PER_PARTITION = 2_000
REASON_FILE_TOO_LARGE = "file too large: {:,} bytes, over the {:,} bytes an image within the pixel limit can take"


def local_path(path: str) -> str:
    """A local or mounted (/Volumes, /dbfs) path from Spark's URIs for them (``file:/x``, ``dbfs:/Volumes/x``)."""
    for scheme in ("file://", "file:", "dbfs:"):
        if path.startswith(scheme):
            return path[len(scheme):]
    return path


def max_file_bytes(max_pixels: int) -> int:
    """The largest file worth reading: 4 bytes a pixel (RGBA, uncompressed) at the pixel limit, plus 1 MiB of
    headers and metadata. Anything bigger is not an image the job would decode, so it is never read into memory."""
    return 4 * max_pixels + (1 << 20)


def read_image_file(path: str | None, max_bytes: int) -> tuple[bytes | None, str | None]:
    """(bytes, None) for a readable file within ``max_bytes``; (None, reason) otherwise."""
    if path is None:
        return None, "file could not be read"
    local = local_path(path)
    try:
        size = os.stat(local).st_size
        if size > max_bytes:
            return None, REASON_FILE_TOO_LARGE.format(size, max_bytes)
        with open(local, "rb") as fh:
            return fh.read(), None
    except OSError:
        return None, "file could not be read"


def decode_file(path: str | None, size: int, mode: str, max_pixels: int,
                ) -> tuple[bytes | None, str | None, str | None]:
    """One file -> (pixels, source mode, reason), as ``decode_image``; unreadable or oversized files get a reason."""
    content, reason = read_image_file(path, max_file_bytes(max_pixels))
    if reason is not None:
        return None, None, reason
    return decode_image(content, size, mode, max_pixels)


def decode_batches(batches: Iterator[pd.DataFrame], size: int, mode: str, max_pixels: int) -> Iterator[pd.DataFrame]:
    """mapInPandas body: (path, label) -> DECODED_SCHEMA; each worker reads its files itself."""
    for pdf in batches:
        rows = []
        for path, label in zip(pdf["path"], pdf["label"], strict=True):
            pixels, source_mode, reason = decode_file(path, size, mode, max_pixels)
            rows.append((path, label, source_mode, pixels, reason))
        yield pd.DataFrame(rows, columns=DECODED_SCHEMA.fieldNames())


def list_files(root: str) -> list[str]:
    """Every file under ``root``, recursively and sorted: empty files and names starting with ``.`` or ``_`` too.

    Spark's file sources (``binaryFile``) silently skip exactly those, so a zero-byte image would be counted
    nowhere; listing here makes every file either prepared or quarantined. The listing is paths only (about 100
    bytes a file), the same list Spark's own file index holds on the driver.
    """
    found = []
    for folder, _, files in os.walk(local_path(root)):
        found.extend(os.path.join(folder, name) for name in files)
    return sorted(found)


def listing_frame(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """(path, label) rows for file paths, label = the name of each file's parent folder, spread over partitions."""
    pdf = pd.DataFrame({"path": pd.Series(list(paths), dtype=object),
                        "label": pd.Series([os.path.basename(os.path.dirname(p)) for p in paths], dtype=object)})
    frame = spark.createDataFrame(pdf, LISTING_SCHEMA)
    partitions = max(parallelism(spark), -(-len(paths) // LISTING_ROWS_PER_PARTITION))
    return frame.repartition(partitions)


def images_from_folder(spark: SparkSession, root: str) -> DataFrame:
    """Every file under ``root`` as (path, label); label = the name of the file's parent folder."""
    return listing_frame(spark, list_files(root))


def images_from_table(listing: DataFrame) -> DataFrame:
    """A (path, label) table, as the decoder takes it."""
    return listing.select("path", "label")


def decode_images(images: DataFrame, size: int, mode: str, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> DataFrame:
    """(path, label) -> DECODED_SCHEMA rows, one per input row, decoded in Python workers."""
    return images.mapInPandas(lambda it: decode_batches(it, size, mode, max_pixels), DECODED_SCHEMA)


def flag_unknown_labels(decoded: DataFrame, classes: Sequence[str]) -> DataFrame:
    """Set ``reason`` for rows whose label is not one of ``classes`` (the decode reason, if any, comes first)."""
    known = F.col("label").isin(list(classes))
    unknown = F.concat(F.lit("unknown label '"), F.coalesce(F.col("label"), F.lit("<null>")),
                       F.lit(f"' (expected one of {', '.join(classes)})"))
    return decoded.withColumn("reason", F.coalesce(F.col("reason"), F.when(~known | F.col("label").isNull(), unknown)))


def file_name(path: str = "path") -> Column:
    """The last part of an image's path: what identifies it wherever the image set is copied or mounted."""
    return F.element_at(F.split(F.col(path), "/"), -1)


def assign_splits(df: DataFrame, val_fraction: float, test_fraction: float, seed: int) -> DataFrame:
    """Add ``split`` (train/val/test), stratified by ``label`` and seeded: each label's rows are ordered by a
    seeded hash of the file's name and the first ceil(test_fraction * n) go to test, the next ones to val.

    The name, not the full path: the same images copied or mounted elsewhere (another volume, another machine)
    get the same split, so runs on either side train and test on the same images.
    """
    name = file_name()
    order = Window.partitionBy("label").orderBy(F.xxhash64(name, F.lit(seed)), name, F.col("path"))
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
