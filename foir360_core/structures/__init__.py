"""The typed container for one panorama's ranked instances, and its RLE mask encoding."""

from foir360_core.structures.instances import PanoInstances, RankError
from foir360_core.structures.rle import decode_rle, encode_masks, rle_area

__all__ = ["PanoInstances", "RankError", "decode_rle", "encode_masks", "rle_area"]
