"""Dataset files: COCO-style JSON with RLE masks and an importance rank per annotation."""

from foir360_core.io.dataset import (
    FORMAT_VERSION,
    Dataset,
    DatasetError,
    ImageRecord,
    write_dataset,
    write_dataset_json,
)
from foir360_core.io.images import read_image, write_image

__all__ = [
    "FORMAT_VERSION",
    "Dataset",
    "DatasetError",
    "ImageRecord",
    "read_image",
    "write_dataset",
    "write_dataset_json",
    "write_image",
]
