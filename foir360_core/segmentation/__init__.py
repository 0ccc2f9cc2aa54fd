"""Instance segmentation of whole ERP panoramas: perspective segmenters run on rectilinear views,
their masks merged into one set of disjoint panorama instances."""
