"""The interactive map of the aggregate task: one self-contained HTML page (folium / Leaflet) of points per H3 cell
at a resolution that suits the data's extent, with the zones outlined; pure functions over bounded pandas frames.

Choices, and why:

- **Library.** folium writes a Leaflet page from Python (GeoJSON layers, tooltips, layer switcher), so this module
  holds no hand-written JavaScript. Leaflet draws polygons as SVG paths, which a browser test can count.
- **Offline.** folium's page loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs, which a closed network
  (or an MLflow artifact viewer behind a firewall) never reaches, leaving a blank page. Only Leaflet is needed for
  GeoJSON layers, tooltips and the layer control, so the page drops the rest and inlines Leaflet's JS and CSS from
  the ``XStatic-Leaflet`` wheel (Leaflet 1.9.3, the version folium 0.20 targets), with the CSS's images as data
  URIs. Nothing is fetched when the job runs, and :func:`map_html` refuses to return a page that still loads a
  script, style sheet or image from elsewhere. The basemap is the one optional network use: Leaflet requests its
  tiles when the page is viewed; without a network the tiles stay blank and every data layer still draws.
  ``map_tiles="none"`` leaves it out (the viewer's browser then sends no request at all, e.g. where the area of
  interest must not leak to a tile server).
- **Resolution.** The job indexes at a fine resolution (11 by default, ~25 m hexagons); drawn over a 20 km city those
  are specks. The map re-aggregates to an H3 *parent* resolution chosen from the data's extent
  (:func:`choose_map_resolution`): the finest resolution at which at most ``target_cells`` hexagons tile a square
  whose side is the extent's longer side -- what fills the screen once the map fits the data. With the default
  target of 2,000 that is about 45 cells across the view, each one a few dozen pixels wide, and as resolutions step
  by a factor of 7 in area, the extent holds between target/7 and target cells (about 290 to 2,000). Clustered
  data occupies fewer of them. The extent is trimmed by quantiles on the Spark side, so a stray point far away
  does not zoom the map out.
- **Colours.** Counts are skewed, so cells are binned on a 1-2-5 (or coarser) log ladder (:func:`count_bins`) and
  coloured with viridis; discrete bins give a legend a reader can match by eye. The legend is static HTML.
- **Safety.** Zone names are user data and Leaflet tooltips are HTML, so every text property is HTML-escaped.
  H3 BIGINT ids exceed JavaScript's 2**53, so they travel as strings.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import folium
import h3
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import shapely
from branca.element import Element

TARGET_CELLS = 2_000
MAX_BINS = 9
KM_PER_DEGREE = 111.195  # great-circle km per degree of latitude (mean Earth radius 6,371 km)
NO_TILES = "none"
DEFAULT_TILES = "OpenStreetMap.Mapnik"
ZONE_COLOR = "#e4007c"  # magenta: stands out on viridis and on a light basemap
NO_DATA_COLOR = "#dddddd"  # Leaflet's empty-map background
CELL_OPACITY = 0.75
CELL_CLASS, ZONE_CLASS = "h3-cell", "zone-outline"  # on every SVG path, for tests and custom styling


@dataclass(frozen=True)
class Extent:
    """A lat/lon box (degrees). Data crossing the antimeridian gets the whole-world width (a coarse map)."""

    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        if not (-90 <= self.south <= self.north <= 90 and -180 <= self.west <= self.east <= 180):
            raise ValueError(f"not a lat/lon box: {self}")

    def longer_side_km(self) -> float:
        """The longer of the box's north-south and east-west sides in km (east-west at its widest latitude)."""
        widest_lat = 0.0 if self.south <= 0 <= self.north else min(abs(self.south), abs(self.north))
        east_west = (self.east - self.west) * KM_PER_DEGREE * math.cos(math.radians(widest_lat))
        return max((self.north - self.south) * KM_PER_DEGREE, east_west)

    def bounds(self) -> list[list[float]]:
        """[[south, west], [north, east]], as Leaflet's fitBounds takes it."""
        return [[self.south, self.west], [self.north, self.east]]


def cells_in_view(extent: Extent, resolution: int) -> float:
    """About how many hexagons of ``resolution`` tile the square on the extent's longer side."""
    return extent.longer_side_km() ** 2 / h3.average_hexagon_area(resolution, unit="km^2")


def choose_map_resolution(extent: Extent | None, finest: int, target_cells: int = TARGET_CELLS) -> int:
    """The finest resolution in 0..``finest`` whose hexagons, about ``target_cells`` of them at most, fill the view of
    ``extent`` (see the module docstring); ``finest`` for a single point or no extent, 0 when even that is too fine."""
    if not 0 <= finest <= 15 or target_cells < 1:
        raise ValueError(f"need 0 <= finest <= 15 and target_cells >= 1, got {finest}, {target_cells}")
    if extent is None or extent.longer_side_km() == 0:
        return finest
    for resolution in range(finest, -1, -1):
        if cells_in_view(extent, resolution) <= target_cells:
            return resolution
    return 0


def count_bins(max_count: int, max_bins: int = MAX_BINS) -> list[int]:
    """Lower edges of count classes, starting at 1: a 1-2-5 ladder up to ``max_count``, else 1-3, else powers of 10
    (every k-th decade when even those are too many), so there are at most ``max_bins`` classes."""
    top = max(int(max_count), 1)
    decades = range(len(str(top)))
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        edges = [m * 10**d for d in decades for m in mantissas if m * 10**d <= top]
        if len(edges) <= max_bins:
            return edges
    step = math.ceil(len(decades) / max_bins)
    return [10**d for d in decades[::step]]


def bin_labels(edges: Sequence[int], max_count: int) -> list[str]:
    """'1', '2–4', ..., the last class ending at ``max_count``."""
    highs = [e - 1 for e in edges[1:]] + [max(int(max_count), edges[-1])]
    return [f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}" for lo, hi in zip(edges, highs, strict=True)]


def bin_colors(n_bins: int) -> list[str]:
    """``n_bins`` viridis colours, dark (few points) to yellow (many)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["viridis"]
    return [to_hex(cmap(x)) for x in (np.linspace(0.0, 1.0, n_bins) if n_bins > 1 else [0.5])]


def _unwrap(ring: np.ndarray) -> np.ndarray:
    """Shift the western longitudes of a ring that crosses the antimeridian by +360, so it stays one hexagon."""
    if np.ptp(ring[:, 0]) > 180:
        ring = ring.copy()
        ring[ring[:, 0] < 0, 0] += 360
    return ring


def cell_ring(cell: int) -> list[list[float]]:
    """The closed lon/lat ring of a cell for GeoJSON (6 decimals, about 0.1 m)."""
    ring = np.array([(lng, lat) for lat, lng in h3i.cell_to_boundary(int(cell))])
    ring = _unwrap(np.round(np.vstack([ring, ring[:1]]), 6))
    return ring.tolist()


def cells_geojson(cells: pd.DataFrame, resolution: int, edges: Sequence[int], colors: Sequence[str]) -> dict:
    """cells (cell BIGINT, n_points, optional n_zoned) -> a FeatureCollection of hexagons with tooltip fields and
    the fill colour of their count class."""
    counts = cells["n_points"].to_numpy(np.int64)
    classes = np.searchsorted(np.asarray(edges), counts, side="right") - 1
    zoned = cells["n_zoned"].to_numpy(np.int64) if "n_zoned" in cells else None
    features = []
    for i, cell in enumerate(cells["cell"].to_numpy(np.int64).tolist()):
        props = {"h3": h3i.int_to_str(cell), "cell_bigint": str(cell), "resolution": resolution,
                 "points": int(counts[i]), "fill": colors[max(int(classes[i]), 0)]}
        if zoned is not None:
            props["points_in_zones"] = int(zoned[i])
        features.append({"type": "Feature", "id": props["h3"], "properties": props,
                         "geometry": {"type": "Polygon", "coordinates": [cell_ring(cell)]}})
    return {"type": "FeatureCollection", "features": features}


def outline_tolerance_deg(resolution: int) -> float:
    """Simplification tolerance for zone outlines: a tenth of a map cell's edge, invisible next to the cells."""
    return h3.average_hexagon_edge_length(resolution, unit="km") / KM_PER_DEGREE / 10


def zones_geojson(zones: pd.DataFrame, tolerance_deg: float) -> dict:
    """zones (zone_id, name, n_points, optional points_per_km2, wkb) -> a FeatureCollection of simplified outlines
    with escaped tooltip fields. Empty or missing geometries are left out."""
    features = []
    geoms = shapely.from_wkb(zones["wkb"].to_numpy(object))
    geoms = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, 6))
    density = zones["points_per_km2"] if "points_per_km2" in zones else pd.Series(np.nan, index=zones.index)
    for zone_id, name, n, per_km2, geom in zip(zones["zone_id"], zones["name"], zones["n_points"], density, geoms,
                                               strict=True):
        if geom is None or geom.is_empty:
            continue
        props = {"zone_id": html.escape(str(zone_id)), "name": html.escape("" if pd.isna(name) else str(name)),
                 "points": int(n) if pd.notna(n) else 0}
        props["points_per_km2"] = round(float(per_km2), 1) if pd.notna(per_km2) else "n/a"
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def data_extent(cells: pd.DataFrame, zones: pd.DataFrame | None) -> Extent | None:
    """The box of the drawn cells and zones (to fit the view when the points' extent is unknown)."""
    boxes = []
    if len(cells):
        lat_lng = np.array([h3i.cell_to_latlng(int(c)) for c in cells["cell"]])
        boxes.append((lat_lng[:, 0].min(), lat_lng[:, 1].min(), lat_lng[:, 0].max(), lat_lng[:, 1].max()))
    if zones is not None and len(zones):
        west, south, east, north = shapely.total_bounds(shapely.from_wkb(zones["wkb"].to_numpy(object)))
        if np.isfinite([west, south, east, north]).all():
            boxes.append((south, west, north, east))
    if not boxes:
        return None
    b = np.array(boxes, dtype=float)
    return Extent(float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def _legend_html(title: str, lines: Sequence[str], labels: Sequence[str], colors: Sequence[str]) -> str:
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:middle;'
        f'background:{c};opacity:{CELL_OPACITY}"></span>{html.escape(lab)}</div>'
        for lab, c in zip(labels, colors, strict=True))
    zone_key = (f'<div><span style="display:inline-block;width:14px;height:0;margin-right:6px;vertical-align:middle;'
                f'border-top:2px solid {ZONE_COLOR}"></span>zone outline</div>')
    notes = "".join(f"<div>{html.escape(line)}</div>" for line in lines)
    box = ("position:absolute;z-index:1000;background:rgba(255,255,255,0.9);padding:6px 10px;border-radius:4px;"
           "font:12px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)")
    return (f'<div id="map-title" style="{box};top:10px;left:60px;max-width:60%">'
            f'<b>{html.escape(title)}</b>{notes}</div>'
            f'<div id="map-legend" style="{box};bottom:24px;right:10px"><b>points per cell</b>{rows}{zone_key}</div>')


def build_map(cells: pd.DataFrame, zones: pd.DataFrame | None, resolution: int, *, view: Extent | None = None,
              tiles: str = DEFAULT_TILES, title: str = "points per H3 cell", notes: Sequence[str] = ()) -> folium.Map:
    """A folium Map of ``cells`` (cell, n_points[, n_zoned]) at ``resolution`` and ``zones`` outlines (zone_id, name,
    n_points[, points_per_km2], wkb), fitted to ``view`` (else to the data). Frames must already be bounded."""
    # zoom_snap: fractional zoom, so fitting the view fills the window instead of stopping at the next power of 2.
    fmap = folium.Map(location=None, tiles=None, control_scale=True, prefer_canvas=False, zoom_snap=0.25)
    fmap.default_js, fmap.default_css = [], []  # instance attributes: the CDN list stays as it is for other maps
    if tiles.lower() != NO_TILES:
        folium.TileLayer(tiles, name=f"basemap ({tiles}, online only)", control=True).add_to(fmap)
    max_count = int(cells["n_points"].max()) if len(cells) else 1
    edges = count_bins(max_count)
    colors = bin_colors(len(edges))
    if len(cells):
        cell_fields = ["h3", "cell_bigint", "resolution", "points"] + (["points_in_zones"] if "n_zoned" in cells
                                                                       else [])
        aliases = ["H3 cell", "cell (BIGINT)", "resolution", "points", "points in a zone"][:len(cell_fields)]
        folium.GeoJson(
            cells_geojson(cells, resolution, edges, colors), name=f"H3 cells (resolution {resolution})",
            style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": CELL_OPACITY,
                                      "color": "#ffffff", "weight": 0.4, "opacity": 0.6},
            highlight_function=lambda f: {"weight": 2.5, "color": "#000000", "opacity": 1.0},
            tooltip=folium.GeoJsonTooltip(cell_fields, aliases=aliases, localize=True, sticky=True),
            className=CELL_CLASS,
        ).add_to(fmap)
    if zones is not None and len(zones):
        shapes = zones_geojson(zones, outline_tolerance_deg(resolution))
        if shapes["features"]:
            folium.GeoJson(
                shapes, name=f"zones ({len(shapes['features']):,})",
                style_function=lambda f: {"fill": False, "color": ZONE_COLOR, "weight": 2, "opacity": 0.9},
                highlight_function=lambda f: {"weight": 4, "opacity": 1.0},
                tooltip=folium.GeoJsonTooltip(["zone_id", "name", "points", "points_per_km2"],
                                              aliases=["zone_id", "name", "points", "points per km²"],
                                              localize=True, sticky=True),
                className=ZONE_CLASS,
            ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fit = view or data_extent(cells, zones)
    if fit is not None:
        fmap.fit_bounds(fit.bounds())
    legend = _legend_html(title, notes, bin_labels(edges, max_count), colors)
    fmap.get_root().html.add_child(Element(legend), name="map_legend")
    return fmap


def leaflet_assets() -> tuple[str, str]:
    """Leaflet's minified JS and its CSS (images inlined as data URIs), read from the XStatic-Leaflet wheel."""
    from xstatic.pkg import leaflet as xstatic_leaflet

    base = Path(xstatic_leaflet.BASE_DIR)
    script = (base / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((base / "images" / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, (base / "leaflet.css").read_text(encoding="utf-8"))
    return script, css


class _ResourceFinder(HTMLParser):
    """Collects what a page would load by itself: script src, stylesheet/link href, img/iframe/source src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}.get(tag)
        value = dict(attrs).get(attr) if attr else None
        if value and not value.startswith("data:"):
            self.urls.append(value)


def external_resources(page: str) -> list[str]:
    """URLs a page loads when opened (scripts, style sheets, images), other than inline data URIs; CSS
    ``url(...)`` references count too. Leaflet's tile requests are made at view time and are not listed."""
    finder = _ResourceFinder()
    finder.feed(page)
    css_urls = [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", page) if not u.startswith(("data:", "#"))]
    return finder.urls + css_urls


def map_html(fmap: folium.Map) -> str:
    """The map as one self-contained HTML page (Leaflet inlined); raises if anything would still load from elsewhere."""
    script, css = leaflet_assets()
    root = fmap.get_root()
    fmap.default_js, fmap.default_css = [], []
    root.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{script}</script>"), name="leaflet")
    page = root.render()
    leftover = external_resources(page)
    if leftover:
        raise RuntimeError(f"the map page would load external resources: {leftover[:5]}")
    return page
