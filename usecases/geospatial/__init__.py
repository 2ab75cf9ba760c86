"""Geospatial use case: H3 indexing of points, H3 cover of zones, hybrid H3 + exact point-in-polygon join."""
