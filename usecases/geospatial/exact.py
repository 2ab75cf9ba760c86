"""Exact point-in-zone tests over a set of zones (vectorized shapely), shared by every join strategy.

Zone ids are text (``00M``, ``FJI``, ``11-Sault-au-Récollet``, ``123``). Where zones overlap a point keeps the
*lowest* zone id in Unicode code point order -- the order of Python's ``str`` comparison, which is also the
byte order of the ids' UTF-8 (Spark's default string order), so Spark's ``min``/``array_min`` and this module
agree. It is not numeric order: ``"10" < "9"`` and ``"Z" < "a"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

ANTIMERIDIAN = 180.0


class ZoneSet:
    """Zones as parallel arrays (zone_id text, prepared geometry), small enough to ship to every Spark task.

    Boundary rule, used everywhere: zones are closed sets. A point on an edge or vertex (outer ring or hole) is in
    the zone (``shapely.intersects_xy``, not ``contains_xy``), so a point on the edge two zones share is in both.
    Longitudes 180 and -180 are the same meridian: a point on it is tested at both, so it is in a zone that touches
    the antimeridian from either side.
    """

    def __init__(self, zone_ids: np.ndarray | list[str], wkb: list[bytes]) -> None:
        ids = np.array([str(z) for z in zone_ids], dtype=object)
        order = sorted(range(len(ids)), key=ids.__getitem__)  # code point order, stable
        self.zone_ids = ids[np.asarray(order, dtype=np.int64)] if len(ids) else ids
        self._wkb = [wkb[i] for i in order]
        self._geoms: np.ndarray | None = None
        self._tree: shapely.STRtree | None = None
        self._index: pd.Index | None = None

    def __len__(self) -> int:
        return len(self.zone_ids)

    def __getstate__(self) -> dict[str, object]:
        return {"zone_ids": self.zone_ids, "_wkb": self._wkb}  # geometries, tree and index are rebuilt where used

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, _geoms=None, _tree=None, _index=None)

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
        """Positions of zone ids in this set (a hash lookup; every id must be present)."""
        if self._index is None:
            self._index = pd.Index(self.zone_ids)
        positions = self._index.get_indexer(np.asarray(zone_ids, dtype=object))
        if (positions < 0).any():
            raise KeyError(f"zone ids not in the zone set: {sorted(set(np.asarray(zone_ids)[positions < 0]))[:5]}")
        return positions

    def hits(self, positions: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Element-wise: is point i in zone ``positions[i]``? (vectorized, prepared geometries)."""
        if len(positions) == 0:
            return np.zeros(0, dtype=bool)
        geoms = self.geoms[positions]
        inside = shapely.intersects_xy(geoms, lon, lat)
        seam = np.abs(lon) == ANTIMERIDIAN
        if seam.any():
            inside[seam] |= shapely.intersects_xy(geoms[seam], -lon[seam], lat[seam])
        return inside

    def candidate_pairs(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point index, zone position) pairs whose bounding boxes meet, from one vectorized STRtree query; a point
        on the antimeridian is also queried at the other sign of its longitude (pairs are distinct)."""
        point_idx, positions = self.tree.query(shapely.points(lon, lat))
        seam = np.flatnonzero(np.abs(lon) == ANTIMERIDIAN)
        if len(seam):
            mirror_idx, mirror_pos = self.tree.query(shapely.points(-lon[seam], lat[seam]))
            pairs = np.unique(np.c_[np.r_[point_idx, seam[mirror_idx]], np.r_[positions, mirror_pos]], axis=0)
            point_idx, positions = pairs[:, 0], pairs[:, 1]
        return point_idx, positions

    def ids_at(self, positions: np.ndarray) -> np.ndarray:
        """Zone ids at positions, None where the position is -1 (no zone): an object array for Arrow strings."""
        out = np.full(len(positions), None, dtype=object)
        found = positions >= 0
        out[found] = self.zone_ids[positions[found]]
        return out


def first_zone_per_point(n_points: int, point_idx: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlap rule: each point keeps the lowest zone that holds it (zone sets are sorted by id, so the lowest
    position), plus how many zones hold it. Input: matching (point index, zone position) pairs, each pair once.

    Output: (zone position, -1 for none; n_zones int32), one entry per point.
    """
    first = np.full(n_points, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, point_idx, positions.astype(np.int64))
    counts = np.bincount(point_idx, minlength=n_points).astype(np.int32)
    return np.where(counts > 0, first, -1), counts


def strtree_match(zones: ZoneSet, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zone id of each point (None for none) and how many zones hold it: an STRtree bounding-box query, then the
    exact test on the candidate pairs."""
    point_idx, positions = zones.candidate_pairs(lon, lat)
    inside = zones.hits(positions, lon[point_idx], lat[point_idx])
    first, counts = first_zone_per_point(len(lon), point_idx[inside], positions[inside])
    return zones.ids_at(first), counts
