"""Exact point-in-zone tests over a set of zones (vectorized shapely), shared by every join strategy and the truth."""

from __future__ import annotations

import numpy as np
import shapely


class ZoneSet:
    """Zones as parallel arrays (zone_id, prepared geometry), small enough to ship to every Spark task.

    Boundary rule, used everywhere: zones are closed sets. A point on an edge or vertex (outer ring or hole) is in
    the zone (``shapely.intersects_xy``, not ``contains_xy``), so a point on the edge two zones share is in both.
    """

    def __init__(self, zone_ids: np.ndarray, wkb: list[bytes]) -> None:
        order = np.argsort(zone_ids, kind="stable")
        self.zone_ids = np.asarray(zone_ids, dtype=np.int64)[order]
        self._wkb = [wkb[i] for i in order]
        self._geoms: np.ndarray | None = None
        self._tree: shapely.STRtree | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"zone_ids": self.zone_ids, "_wkb": self._wkb}  # geometries and tree are rebuilt where used

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, _geoms=None, _tree=None)

    @property
    def geoms(self) -> np.ndarray:
        if self._geoms is None:
            self._geoms = shapely.from_wkb(self._wkb)
            shapely.prepare(self._geoms)
        return self._geoms

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.geoms)
        return self._tree

    def index_of(self, zone_ids: np.ndarray) -> np.ndarray:
        """Positions of zone ids in this set (every id must be present)."""
        return np.searchsorted(self.zone_ids, zone_ids)

    def hits(self, positions: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Element-wise: is point i in zone ``positions[i]``? (vectorized, prepared geometries)."""
        if len(positions) == 0:
            return np.zeros(0, dtype=bool)
        return shapely.intersects_xy(self.geoms[positions], lon, lat)

    def candidate_pairs(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point index, zone position) pairs whose bounding boxes meet, from one vectorized STRtree query."""
        point_idx, positions = self.tree.query(shapely.points(lon, lat))
        return point_idx, positions


def first_zone_per_point(n_points: int, point_idx: np.ndarray, zone_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlap rule: each point keeps the lowest zone_id that holds it, plus how many zones hold it.

    Output: (zone_id as float with NaN for none, n_zones int32), one entry per point.
    """
    first = np.full(n_points, np.inf)
    np.minimum.at(first, point_idx, zone_ids.astype(np.float64))
    counts = np.bincount(point_idx, minlength=n_points).astype(np.int32)
    return np.where(np.isinf(first), np.nan, first), counts


def strtree_match(zones: ZoneSet, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zone of each point with an STRtree bounding-box query then the exact test on the candidate pairs."""
    point_idx, positions = zones.candidate_pairs(lon, lat)
    inside = zones.hits(positions, lon[point_idx], lat[point_idx])
    return first_zone_per_point(len(lon), point_idx[inside], zones.zone_ids[positions[inside]])
