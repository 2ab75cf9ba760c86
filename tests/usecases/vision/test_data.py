"""Rank sharding of the prepared-image stream: own files only, equal batch counts on every rank."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from usecases.vision.data import ShardedImageStream, balanced_steps, rank_files, shard_files


def write_shards(folder: Path, rows_per_file: list[int], size: int = 4) -> None:
    """Shard i holds rows labelled i whose pixels all equal i, so every row names the file it came from."""
    folder.mkdir(parents=True)
    for i, n in enumerate(rows_per_file):
        table = pa.table({"pixels": [bytes([i]) * size * size] * n, "label_index": [i] * n})
        pq.write_table(table, folder / f"part-{i:05d}.parquet")


def test_each_rank_reads_only_its_files_and_all_ranks_take_the_same_steps(tmp_path: Path) -> None:
    write_shards(tmp_path / "train", [5, 4, 4])
    files = shard_files(tmp_path / "train")
    steps = balanced_steps(files, world=2, batch_size=2)
    assert steps == 5  # rank 0 holds files 0 and 2: 9 rows
    for rank, own in ((0, {0, 2}), (1, {1})):
        stream = ShardedImageStream(rank_files(files, rank, 2), steps, 2, 4, 1, seed=1, shuffle=True)
        batches = list(stream)
        assert len(batches) == steps and all(len(y) == 2 for _, y in batches)
        labels = torch.cat([y for _, y in batches])
        assert set(labels.tolist()) == own
        assert all(torch.all(x[k] == y[k].item() / 255.0) for x, y in batches for k in range(len(y)))


def test_unshuffled_stream_reads_rows_in_order_and_reshuffles_per_epoch_when_asked(tmp_path: Path) -> None:
    write_shards(tmp_path / "val", [3, 3])
    files = shard_files(tmp_path / "val")
    ordered = ShardedImageStream(files, 3, 2, 4, 1, seed=1, shuffle=False)
    assert torch.cat([y for _, y in ordered]).tolist() == [0, 0, 0, 1, 1, 1]
    shuffled = ShardedImageStream(files, 3, 2, 4, 1, seed=1, shuffle=True)
    epochs = [torch.cat([y for _, y in shuffled]).tolist() for _ in range(4)]
    assert all(sorted(e) == [0, 0, 0, 1, 1, 1] for e in epochs)  # a buffer the size of the shard: each row once


def test_exported_shards_hold_the_same_rows_in_the_same_order_whatever_the_layout_or_folder(
        spark, tmp_path: Path) -> None:
    """Shard membership and order come from the paths alone, not from how a shuffle happened to deliver rows."""
    from pyspark.sql import functions as F

    from usecases.vision.data import export_shards

    rows = [(f"/data/{c}/img_{i:03d}.png", bytes([i % 256]) * 4, i % 3, "train") for i in range(60) for c in "ab"]
    table = spark.createDataFrame(rows, "path string, pixels binary, label_index int, split string")
    moved = table.withColumn("path", F.concat(F.lit("/elsewhere"), "path"))  # the same images in another folder
    layouts = {"sorted": table.orderBy("path").coalesce(1),
               "scrambled": moved.repartition(7, F.rand(seed=3)).sortWithinPartitions(F.rand(seed=5))}
    exported = {}
    for name, layout in layouts.items():
        export_shards(layout.union(layout.limit(0)), "train", str(tmp_path / name), 2)
        files = shard_files(tmp_path / name)
        exported[name] = [pq.read_table(f).to_pylist() for f in files]
    assert len(exported["sorted"]) == 2 and exported["sorted"] == exported["scrambled"]
    assert sum(len(s) for s in exported["sorted"]) == 120 and all(len(s) > 30 for s in exported["sorted"])


def test_a_rank_without_rows_is_a_clear_error_not_an_endless_wait(tmp_path: Path) -> None:
    import pytest

    write_shards(tmp_path / "train", [0])
    with pytest.raises(ValueError, match="no rows to read"):
        ShardedImageStream(list((tmp_path / "train").glob("*.parquet")), 1, 2, 4, 1, seed=1, shuffle=True)
