"""Rank-sharded streaming of prepared images from Parquet shards: each rank reads only its own files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning as L
import numpy as np
import pyarrow.parquet as pq
import torch
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from torch.utils.data import DataLoader, IterableDataset

from usecases.vision.images import file_name

SHARD_COLUMNS = ["pixels", "label_index"]
READ_BATCH_ROWS = 512


def export_shards(prepared: DataFrame, split: str, folder: str, num_shards: int) -> None:
    """Write one split's (pixels, label_index) as ``num_shards`` Parquet files, one folder each, sorted by path.

    A row's shard is a hash of its file name and class, so shard membership and row order are the same on every
    run, whatever the file layout of the prepared table: a seeded training run is repeatable. (A round-robin
    repartition was not: it deals rows in the order a shuffle delivers them; three runs of the default job
    stopped at epochs 18, 22 and 24, and one reached only 0.925 test accuracy.) One filtered write per shard;
    shards are few (one per process).
    """
    rows = prepared.filter(F.col("split") == split).select("path", *SHARD_COLUMNS)
    # The file's name and class, not its full path: the same images under another folder (each test's or run's
    # own warehouse, another volume) fall into the same shards.
    shard = F.pmod(F.xxhash64(file_name(), F.col("label_index")), F.lit(num_shards))
    for i in range(num_shards):
        (rows.filter(shard == i).coalesce(1).sortWithinPartitions("path").drop("path")
         .write.mode("overwrite").parquet(f"{folder}/shard-{i:05d}"))


def shard_files(folder: str | Path) -> list[Path]:
    """The Parquet files holding rows of an exported split (shard folders, or files directly), in a fixed order."""
    files = sorted(p for p in Path(folder).glob("**/*.parquet") if p.stat().st_size > 0)
    return [f for f in files if pq.ParquetFile(f).metadata.num_rows > 0]


def rank_files(files: list[Path], rank: int, world: int) -> list[Path]:
    """Files rank ``rank`` of ``world`` reads: every world-th file, starting at its rank."""
    return files[rank::world]


def count_rows(files: list[Path]) -> int:
    """Row count from Parquet footers only (no data read)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def to_tensor(pixels: list[bytes], size: int, channels: int) -> torch.Tensor:
    """Stored uint8 rows (HW or HWC) -> float tensor (N, C, H, W) scaled to [0, 1]."""
    array = np.frombuffer(b"".join(pixels), dtype=np.uint8).reshape(len(pixels), size, size, channels)
    return torch.from_numpy(array.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)


class ShardedImageStream(IterableDataset):
    """Yields full (x, y) batches from this rank's files, reshuffled every epoch with a seeded buffer.

    Every rank yields exactly ``steps`` batches (its data cycled if shorter), so DDP ranks stay in step even
    when shards differ by a few rows. Memory is bounded by ``buffer_rows``, not by the split size.
    """

    def __init__(self, files: list[Path], steps: int, batch_size: int, size: int, channels: int, seed: int,
                 shuffle: bool, buffer_rows: int = 4096) -> None:
        super().__init__()
        if not files or count_rows(files) == 0:
            raise ValueError("this rank has no rows to read: fewer images in the split than processes, or every "
                             "image hashed to another process's shard; use fewer processes or more images")
        self.files, self.steps, self.batch_size = files, steps, batch_size
        self.size, self.channels, self.seed, self.shuffle = size, channels, seed, shuffle
        # A buffer no larger than the shard, so one epoch sees each row once before any repeats.
        self.buffer_rows = max(min(buffer_rows, count_rows(files)), batch_size)
        self.epoch = 0

    def _rows(self, rng: np.random.Generator) -> Iterator[tuple[bytes, int]]:
        while True:  # cycle until the consumer has its batches
            order = rng.permutation(len(self.files)) if self.shuffle else range(len(self.files))
            for i in order:
                for batch in pq.ParquetFile(self.files[i]).iter_batches(READ_BATCH_ROWS, columns=SHARD_COLUMNS):
                    yield from zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        rows, buffer = self._rows(rng), []
        for _ in range(self.steps):
            while len(buffer) < (self.buffer_rows if self.shuffle else self.batch_size):
                buffer.append(next(rows))
            if self.shuffle:
                picked = set(rng.choice(len(buffer), self.batch_size, replace=False).tolist())
                batch = [buffer[i] for i in picked]
                buffer = [row for i, row in enumerate(buffer) if i not in picked]
            else:
                batch, buffer = buffer[: self.batch_size], buffer[self.batch_size:]
            pixels, labels = zip(*batch, strict=True)
            yield to_tensor(list(pixels), self.size, self.channels), torch.tensor(labels, dtype=torch.long)


def balanced_steps(files: list[Path], world: int, batch_size: int) -> int:
    """Batches per rank per epoch: enough to cover the largest rank's shard once."""
    largest = max(count_rows(rank_files(files, r, world)) for r in range(world))
    return max(1, -(-largest // batch_size))


class ShardedImageDataModule(L.LightningDataModule):
    """Train and validation streams for one rank, read from exported Parquet shards."""

    def __init__(self, train_dir: str, val_dir: str, rank: int, world: int, batch_size: int, size: int,
                 channels: int, seed: int) -> None:
        super().__init__()
        self.train_dir, self.val_dir, self.rank, self.world = train_dir, val_dir, rank, world
        self.batch_size, self.size, self.channels, self.seed = batch_size, size, channels, seed

    def _stream(self, folder: str, shuffle: bool) -> ShardedImageStream:
        files = shard_files(folder)
        steps = balanced_steps(files, self.world, self.batch_size)
        mine = rank_files(files, self.rank, self.world)
        return ShardedImageStream(mine, steps, self.batch_size, self.size, self.channels, self.seed + self.rank,
                                  shuffle)

    def setup(self, stage: str | None = None) -> None:
        self.train_stream = self._stream(self.train_dir, shuffle=True)
        self.val_stream = self._stream(self.val_dir, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_stream, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_stream, batch_size=None)


def iterate_split(folder: str, batch_size: int, size: int, channels: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Every row of an exported split once, in file order, as (x, y) batches (for evaluation)."""
    for f in shard_files(folder):
        for batch in pq.ParquetFile(f).iter_batches(batch_size, columns=SHARD_COLUMNS):
            yield to_tensor(batch.column(0).to_pylist(), size, channels), torch.tensor(batch.column(1).to_pylist())


def iterate_split_pixels(folder: str, batch_size: int) -> Iterator[tuple[list[bytes], list[int]]]:
    """Every row of an exported split once, in file order, as (decoded pixel rows, label indices) batches."""
    for f in shard_files(folder):
        for batch in pq.ParquetFile(f).iter_batches(batch_size, columns=SHARD_COLUMNS):
            yield batch.column(0).to_pylist(), batch.column(1).to_pylist()
