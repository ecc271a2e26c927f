"""Splits are deterministic, stratified, leak-free, and hold the unseen actions out."""

from __future__ import annotations

import collections
import os
from dataclasses import replace

import pytest

from dataset.splits import SplitConfig, assign_splits, mirror_id, source_id, split_of
from motion.mirror import mirror_label
from motion.sources import find_clips


@pytest.fixture(scope="module")
def clips():
    folder = os.environ.get("MOTIONSEARCH_DATASET")
    return find_clips(folder) if folder else find_clips("data/demo")


def test_labels_agree_with_file_names(clips):
    assert all(c.id.startswith(f"{c.source}_{c.content}_{c.style}_") for c in clips)


def test_splits_are_deterministic_and_seeded(clips):
    config = SplitConfig.load()
    first = assign_splits(clips, config)
    assert first == assign_splits(list(reversed(clips)), config)  # input order does not matter
    other = assign_splits(clips, replace(config, seed=config.seed + 1))
    assert other != first and set(other) == set(first)


def test_unseen_actions_are_held_out_everywhere(clips):
    config = SplitConfig.load()
    splits = assign_splits(clips, config)
    for clip in clips:
        assert (splits[clip.id] == "unseen") == (clip.content in config.unseen_actions)
    # mirroring a seen clip never produces an unseen action
    seen_contents = {c.content for c in clips if splits[c.id] != "unseen"}
    assert not {mirror_label(c) for c in seen_contents} & set(config.unseen_actions)


def test_mirrored_items_follow_their_source(clips):
    splits = assign_splits(clips)
    for clip in clips:
        assert source_id(mirror_id(clip.id)) == clip.id
        assert split_of(mirror_id(clip.id), splits) == split_of(clip.id, splits) == splits[clip.id]


def test_fractions_and_stratification(clips):
    if len(clips) < 1000:
        pytest.skip("fractions are only meaningful on the full dataset (set MOTIONSEARCH_DATASET)")
    splits = assign_splits(clips)
    counts = collections.Counter(s for s in splits.values() if s != "unseen")
    total = sum(counts.values())
    assert abs(counts["train"] / total - 0.80) < 0.01
    assert abs(counts["val"] / total - 0.05) < 0.01
    assert abs(counts["test"] / total - 0.15) < 0.01
    groups = collections.defaultdict(collections.Counter)
    for clip in clips:
        if splits[clip.id] != "unseen":
            groups[(clip.source, clip.content, clip.style)][splits[clip.id]] += 1
    for key, group in groups.items():
        n = sum(group.values())
        if n >= 20:  # every sizeable (content, style) group is in all three splits, near its share
            assert group["val"] >= 1 and abs(group["test"] / n - 0.15) < 0.08, (key, group)
