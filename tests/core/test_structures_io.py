"""Instance container, COCO RLE, and the dataset file format with its error messages."""

import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from foir360_core.io import Dataset, DatasetError, ImageRecord, write_dataset, write_image
from foir360_core.structures import PanoInstances, RankError, decode_rle, encode_masks, rle_area
from foir360_core.structures.instances import ranks_from_scores

H, W = 32, 64


def make_instances(ranks=(2, 1, 3)) -> PanoInstances:
    masks = np.zeros((3, H, W), bool)
    masks[0, 2:10, 5:20] = True
    masks[1, 12:20, 30:40] = True
    masks[2, 5:25, 60:] = True  # crosses the seam
    masks[2, 5:25, :3] = True
    return PanoInstances(masks, class_ids=[1, 2, 1], ranks=ranks, scores=[0.5, 0.9, 0.1])


def test_rle_round_trip_is_lossless_and_coco_compatible():
    rng = np.random.default_rng(1)
    masks = rng.random((4, H, W)) > 0.7
    rles = encode_masks(masks)
    assert all(isinstance(r["counts"], str) and r["size"] == [H, W] for r in rles)
    assert np.array_equal(decode_rle(rles), masks)
    assert rle_area(rles).tolist() == masks.sum(axis=(1, 2)).tolist()
    uncompressed = {"size": [2, 3], "counts": [1, 2, 3]}  # column-major runs: 0, 11, 000
    assert decode_rle([uncompressed])[0].T.ravel().tolist() == [0, 1, 1, 0, 0, 0]


def test_ranks_are_validated_and_derived_from_scores():
    with pytest.raises(RankError, match=r"duplicates \[1\], missing \[3\]"):
        make_instances(ranks=(1, 1, 2))
    with pytest.raises(RankError):
        make_instances(ranks=(0, 1, 2))
    assert ranks_from_scores(np.array([0.2, 0.9, 0.2])).tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match="scores has 2 entries for 3 masks"):
        PanoInstances(np.zeros((3, H, W)), scores=[1.0, 2.0])


def test_subset_and_sort_keep_ranks_compact():
    inst = make_instances()
    ordered = inst.sorted_by_rank()
    assert ordered.ranks.tolist() == [1, 2, 3]
    assert ordered.scores.tolist() == [0.9, 0.5, 0.1]
    assert inst.subset([0, 2]).ranks.tolist() == [1, 2]
    assert inst.geometry[2].bbox_xywh[0] == 60  # seam-aware box starts at the right edge


def write_pano(tmp_path, name="p.png", shape=(H, W)):
    write_image(tmp_path / name, np.zeros((*shape, 3), np.uint8))


def test_dataset_round_trip_opens_in_pycocotools(tmp_path):
    write_pano(tmp_path)
    inst = make_instances()
    record = ImageRecord(7, "p.png", W, H, {"density": 3.5})
    path = write_dataset(tmp_path / "d.json", [(record, inst)])
    ds = Dataset.load(path)
    back = ds.instances(7)
    assert np.array_equal(back.masks, inst.masks)
    assert back.ranks.tolist() == [2, 1, 3]
    assert back.scores.tolist() == [0.5, 0.9, 0.1]
    assert ds.record(7).extra == {"density": 3.5}
    assert ds.read_image(7).shape == (H, W, 3)
    coco = COCO(str(path))  # any COCO tool still opens the file
    ann = coco.loadAnns(coco.getAnnIds(imgIds=[7]))[2]
    assert np.array_equal(coco.annToMask(ann).astype(bool), inst.masks[2])
    assert ann["bbox"][2] == W and ann["erp_bbox"][2] < W // 2


def test_unranked_and_empty_images(tmp_path):
    inst = PanoInstances(make_instances().masks)
    empty = PanoInstances(np.zeros((0, H, W), bool))
    path = write_dataset(tmp_path / "d.json", [(ImageRecord(1, "a.png", W, H), inst),
                                               (ImageRecord(2, "b.png", W, H), empty)])
    ds = Dataset.load(path)
    assert ds.instances(1).ranks is None and not ds.has_ranks(1)
    assert len(ds.instances(2)) == 0 and ds.instances(2).image_size == (H, W)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image id"),
        (lambda d: d["annotations"][0].update(image_id=99), "not in 'images'"),
        (lambda d: d["annotations"][0]["segmentation"].update(size=[H, W + 1]),
         "re-encode the mask at image size"),
        (lambda d: d["annotations"][0].pop("importance_rank"), "rank every object or none"),
        (lambda d: d["annotations"][0].update(importance_rank=1), "duplicates"),
        (lambda d: d["images"][0].update(width=W + 10), "not a 2:1"),
        (lambda d: d["annotations"].append(dict(d["annotations"][0])), "duplicate annotation id"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, mutate, message):
    path = write_dataset(tmp_path / "d.json", [(ImageRecord(1, "p.png", W, H), make_instances())])
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=message):
        Dataset.load(path).instances(1)


def test_missing_and_mismatched_image_files(tmp_path):
    path = write_dataset(tmp_path / "d.json", [(ImageRecord(1, "p.png", W, H), make_instances())])
    ds = Dataset.load(path)
    with pytest.raises(FileNotFoundError, match="image file not found"):
        ds.read_image(1)
    write_pano(tmp_path, shape=(H, W + 2))
    with pytest.raises(DatasetError, match="file is 66x32"):
        ds.read_image(1)
    (tmp_path / "p.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ValueError, match="truncated or not an image"):
        ds.read_image(1)
    with pytest.raises(DatasetError, match="not valid JSON"):
        (tmp_path / "bad.json").write_text("{")
        Dataset.load(tmp_path / "bad.json")
    with pytest.raises(DatasetError, match="not found"):
        Dataset.load(tmp_path / "nope.json")


def test_non_erp_allowed_with_explicit_warning(tmp_path):
    path = write_dataset(tmp_path / "d.json", [(ImageRecord(1, "p.png", 40, 30),
                                                PanoInstances(np.zeros((0, 30, 40), bool)))])
    with pytest.warns(UserWarning, match="not a 2:1"):
        Dataset.load(path, strict_erp=False)


@pytest.mark.parametrize("lon_major", [False, True])
def test_annotation_boxes_are_the_pixel_extent_in_either_mask_layout(lon_major):
    from foir360_core.io.dataset import annotations_for

    masks = make_instances().masks
    masks = np.concatenate([masks, np.zeros((1, H, W), bool)])  # and an empty one
    if lon_major:  # the layout post-processing produces
        masks = np.ascontiguousarray(masks.transpose(0, 2, 1)).transpose(0, 2, 1)
    anns = annotations_for(ImageRecord(1, "p.png", W, H), PanoInstances(masks), 1)
    for ann, mask in zip(anns, masks, strict=True):
        ys, xs = np.nonzero(mask)
        expected = ([int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
                    if xs.size else [0, 0, 0, 0])
        assert ann["bbox"] == expected
