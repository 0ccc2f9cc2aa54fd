"""Panorama geometry: ERP conventions (SPEC §3), spherical measures and rectilinear views."""

from foir360_core.geometry.erp import (
    ErpShapeError,
    azimuth_elevation,
    check_erp_shape,
    lonlat_grid,
    lonlat_to_pixel,
    lonlat_to_vector,
    pixel_to_lonlat,
    solid_angle_weights,
    vector_to_lonlat,
    yaw_roll,
)
from foir360_core.geometry.measures import (
    MaskGeometry,
    angular_extent,
    mask_geometry,
    seam_aware_bbox,
    spherical_centroid,
)
from foir360_core.geometry.views import (
    ViewGeometry,
    erp_to_view,
    fov_to_contain,
    view_to_erp,
)

__all__ = [
    "ErpShapeError",
    "MaskGeometry",
    "ViewGeometry",
    "angular_extent",
    "azimuth_elevation",
    "check_erp_shape",
    "erp_to_view",
    "fov_to_contain",
    "lonlat_grid",
    "lonlat_to_pixel",
    "lonlat_to_vector",
    "mask_geometry",
    "pixel_to_lonlat",
    "seam_aware_bbox",
    "solid_angle_weights",
    "spherical_centroid",
    "vector_to_lonlat",
    "view_to_erp",
    "yaw_roll",
]
