"""Scene density, paper seed 000 Eq. 6 (SPEC §7): ``Dens = M · Σ_i 1 / (CenDis_i + ObjSize_i)``.

``ObjSize_i`` is the pixel count of mask i and ``CenDis_i`` the mean distance from the
other masks' centres to the centre of mask i, M = 10,000; ``Dens > 10`` marks a dense scene
(the annotation tool then ranks sub-windows and merges them with the local rank collector).

Panorama reading of the paper's pixel distance: centres are spherical centroids and the
distance between two centres is their great-circle angle expressed in ERP pixels
(``angle × W / 2π``, the pixel length of that arc on the equator). On the equator and away
from the seam this equals the plain image distance; across the seam or near a pole it is
the true separation instead of a spurious one of nearly the image width.

The score depends on the image resolution, as in the paper (both terms are in pixels).
``reference_width`` rescales distances and areas to a panorama of that width so scores of
differently sized images compare; by default the native pixels are used.
"""

from __future__ import annotations

import numpy as np

from foir360_core.structures import PanoInstances

DENSITY_M = 10_000.0
DENSE_THRESHOLD = 10.0


def density_score(
    instances_or_masks: PanoInstances | np.ndarray,
    *,
    reference_width: int | None = None,
    m: float = DENSITY_M,
) -> float:
    """Eq. 6 for one panorama; empty masks are ignored, no objects gives 0.0.

    A lone object has no other centres, so its ``CenDis`` is 0 and it contributes
    ``M / ObjSize``. Centres and sizes come from the instances' cached ``geometry``.
    """
    instances = (instances_or_masks if isinstance(instances_or_masks, PanoInstances)
                 else PanoInstances(instances_or_masks))
    nonempty = [g for g in instances.geometry if g.area_px > 0]
    return density_from_geometry(
        np.array([g.direction for g in nonempty]).reshape(-1, 3),
        np.array([g.area_px for g in nonempty], dtype=np.float64),
        instances.image_size[1], reference_width=reference_width, m=m,
    )


def density_from_geometry(
    centres: np.ndarray, sizes: np.ndarray, width: int, *, reference_width: int | None = None,
    m: float = DENSITY_M,
) -> float:
    """Eq. 6 from unit centre vectors (n, 3) and pixel sizes (n,) of non-empty masks."""
    n = sizes.size
    if n == 0:
        return 0.0
    angles = np.arccos(np.clip(centres @ centres.T, -1.0, 1.0))
    distances = angles * width / (2.0 * np.pi)
    cen_dis = distances.sum(axis=1) / (n - 1) if n > 1 else np.zeros(1)
    if reference_width is not None:
        scale = reference_width / width
        cen_dis = cen_dis * scale
        sizes = sizes * scale * scale
    return float(m * np.sum(1.0 / (cen_dis + sizes)))


def is_dense(score: float, threshold: float = DENSE_THRESHOLD) -> bool:
    """The paper's dense-scene rule, ``Dens > 10``."""
    return score > threshold
