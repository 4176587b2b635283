"""The dataset.jsonl contract: every row the build writes is a DatasetRow; one reader and writer for all stages."""

import typing

import pytest

from medimind_assets.data.rows import (
    SPLITS,
    DatasetError,
    DatasetRow,
    read_dataset,
    select,
    split_counts,
    write_dataset,
)


def test_the_build_writes_rows_of_the_contract_and_reads_them_back(tmp_path, sample_data):
    from medimind_assets.data.build import build_dataset

    rows = build_dataset(sample_data).rows
    keys = set(typing.get_type_hints(DatasetRow))
    assert all(set(row) == keys for row in rows)
    path = tmp_path / "dataset.jsonl"
    write_dataset(path, rows)
    assert read_dataset(path) == rows
    assert set(split_counts(rows)) == set(SPLITS) and sum(split_counts(rows).values()) == len(rows)


def test_select_is_a_seeded_subset_in_file_order():
    rows = [{"id": str(i), "split": "train"} for i in range(10)] + [{"id": "v", "split": "validation"}]
    subset = select(rows, "train", 4, seed=1)
    assert len(subset) == 4 and subset == sorted(subset, key=lambda r: int(r["id"]))
    assert select(rows, "train", 4, seed=1) == subset and select(rows, "validation") == [rows[-1]]


def test_select_keeps_only_the_sources_asked_for():
    rows = [{"id": str(i), "split": "train", "source": ("mediqa_qa", "medquad")[i % 2]} for i in range(10)]
    chosen = select(rows, "train", sources=["mediqa_qa"])
    assert [r["id"] for r in chosen] == ["0", "2", "4", "6", "8"]
    assert len(select(rows, "train", 2, seed=3, sources=["medquad"])) == 2


def test_a_row_without_its_split_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "dataset.jsonl"
    path.write_text('{"id": "a", "instruction": "q", "response": "a", "split": "train"}\n{"id": "b"}\n')
    with pytest.raises(DatasetError, match=f"{path}:2: row has no instruction, response, split"):
        read_dataset(path)
