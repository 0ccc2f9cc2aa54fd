"""Training data for real photos: pitch/roll tilt augmentation and the decoded-sample cache."""

from __future__ import annotations

import numpy as np
import torch

from foir360_core.geometry import spherical_centroid
from foir360_core.geometry.rotation import tilt_matrix
from foir360_core.io import Dataset
from foir360_core.training.data import RankedPanoramas, _tilt
from foir360_core.training.validate import ground_truth
from tests.core.test_training import H, W, ranked_dataset  # noqa: F401  (fixture)


def test_tilt_moves_masks_with_the_sphere_and_keeps_ranks(ranked_dataset):  # noqa: F811
    ds = Dataset.load(ranked_dataset)
    plain = RankedPanoramas(ds, [2], input_size=(H, W), class_names=["object"])[0]
    x, masks = _tilt(plain.image.numpy(), plain.masks.numpy().astype(bool), 8.0, -5.0)
    assert x.shape == plain.image.shape and masks.shape == plain.masks.shape
    before = spherical_centroid(plain.masks.numpy().astype(bool))
    after = spherical_centroid(masks)
    expected = before @ tilt_matrix(8.0, -5.0).T
    angles = np.degrees(np.arccos(np.clip((after * expected).sum(1), -1, 1)))
    assert angles.max() < 4.0  # a few 64x128 pixels (2.8° each)
    aug = RankedPanoramas(ds, [2], input_size=(H, W), class_names=["object"],
                          augment={"tilt_degrees": 10.0})[0]
    assert torch.equal(aug.ranks, plain.ranks)
    assert not torch.equal(aug.image, plain.image)


def test_cache_decodes_each_panorama_once(ranked_dataset, monkeypatch):  # noqa: F811
    ds = Dataset.load(ranked_dataset)
    reads = []
    original = ds.read_image
    monkeypatch.setattr(ds, "read_image", lambda i: reads.append(i) or original(i))
    cached = RankedPanoramas(ds, [1, 2], input_size=(H, W), class_names=["object"], cache=True)
    first = [cached[i] for i in range(2)]
    second = [cached[i] for i in range(2)]
    assert reads == [1, 2]
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a.image, b.image) and torch.equal(a.masks, b.masks)


def test_min_object_fraction_drops_small_targets_and_recompacts_ranks(ranked_dataset):  # noqa: F811
    ds = Dataset.load(ranked_dataset)
    plain = RankedPanoramas(ds, [2], input_size=(H, W), class_names=["object"])[0]
    areas = plain.masks.sum((1, 2)).numpy()
    assert len(set(areas)) > 1, "the fixture needs objects of different sizes"
    cut = float(np.sort(areas)[1]) / (H * W)  # drops exactly the smallest object(s)
    kept = RankedPanoramas(ds, [2], input_size=(H, W), class_names=["object"],
                           min_object_fraction=cut)[0]
    want = areas >= cut * H * W
    assert len(kept.ranks) == int(want.sum()) < len(plain.ranks)
    assert sorted(kept.ranks.tolist()) == list(range(1, len(kept.ranks) + 1))
    order = np.argsort(plain.ranks.numpy()[want])  # the survivors keep their relative order
    assert np.array_equal(np.argsort(kept.ranks.numpy()), order)
    gt = ground_truth(ds, 2, (H, W), cut)
    assert len(gt) == len(kept.ranks)


def test_a_panorama_without_targets_is_skipped_and_its_photo_never_decoded(
        ranked_dataset, monkeypatch):  # noqa: F811
    ds = Dataset.load(ranked_dataset)
    reads = []
    original = ds.read_image
    monkeypatch.setattr(ds, "read_image", lambda i: reads.append(i) or original(i))
    data = RankedPanoramas(ds, [2], input_size=(H, W), class_names=["object"],
                           min_object_fraction=1.0)
    assert data[0] is None and data[0] is None
    assert reads == []
