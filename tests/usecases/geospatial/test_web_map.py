"""The interactive map's pure parts: resolution from extent, count classes, GeoJSON layers, the self-contained page."""

from __future__ import annotations

import json
import re

import folium
import h3
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import ConfigError
from usecases.geospatial.config import GeospatialConfig
from usecases.geospatial.web_map import (
    CELL_CLASS,
    ZONE_CLASS,
    Extent,
    bin_labels,
    build_map,
    cells_geojson,
    cells_in_view,
    choose_map_resolution,
    count_bins,
    external_resources,
    leaflet_assets,
    map_html,
    zones_geojson,
)

CITY = Extent(40.64, -74.07, 40.82, -73.83)  # the generated city: about 20 km x 20 km


def _cells(resolution: int, counts: list[int], lat: float = 40.73, lon: float = -73.95) -> pd.DataFrame:
    ring = h3i.grid_disk(h3i.latlng_to_cell(lat, lon, resolution), 3)[:len(counts)]
    return pd.DataFrame({"cell": np.array(ring, dtype=np.int64), "n_points": counts})


def _zones(names: list[str]) -> pd.DataFrame:
    boxes = [shapely.box(-73.99 + 0.02 * i, 40.70, -73.98 + 0.02 * i, 40.72) for i in range(len(names))]
    return pd.DataFrame({"zone_id": np.arange(1, len(names) + 1), "name": names, "n_points": [5] * len(names),
                         "points_per_km2": [2.5] * len(names), "wkb": [shapely.to_wkb(b) for b in boxes]})


def _data(page: str, class_name: str) -> dict:
    """The FeatureCollection folium embedded for the layer with ``class_name``."""
    var = re.search(r"var (geo_json_\w+) = L\.geoJson\(null, \{(?:(?!L\.geoJson).)*?\"className\": \"" + class_name,
                    page, re.S).group(1)
    return json.loads(re.search(var + r"_add\((\{.*?\})\);\n", page, re.S).group(1))


# --- resolution from extent -------------------------------------------------------------------------------------


def test_city_gets_a_resolution_of_a_few_hundred_to_a_few_thousand_cells() -> None:
    resolution = choose_map_resolution(CITY, finest=11, target_cells=2000)
    assert resolution == 8
    assert 2000 / 7 < cells_in_view(CITY, resolution) <= 2000 < cells_in_view(CITY, resolution + 1)


def test_single_point_or_no_extent_keeps_the_job_resolution() -> None:
    assert choose_map_resolution(Extent(40.7, -73.9, 40.7, -73.9), finest=11) == 11
    assert choose_map_resolution(None, finest=9) == 9


def test_whole_world_is_resolution_zero() -> None:
    assert choose_map_resolution(Extent(-90, -180, 90, 180), finest=11, target_cells=2000) == 0
    assert choose_map_resolution(Extent(-90, -180, 90, 180), finest=11, target_cells=1) == 0


def test_a_thin_strip_is_judged_by_its_long_side() -> None:
    """A 20 km east-west line of points has no area, but the view still spans 20 km: same resolution as the city."""
    strip = Extent(40.73, CITY.west, 40.73, CITY.east)
    assert choose_map_resolution(strip, finest=11) == choose_map_resolution(CITY, finest=11)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        choose_map_resolution(CITY, finest=16)
    with pytest.raises(ValueError):
        choose_map_resolution(CITY, finest=11, target_cells=0)
    with pytest.raises(ValueError):
        Extent(41.0, -73.0, 40.0, -72.0)  # south above north


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-60, 60), lon=st.floats(-170, 160), size=st.floats(0.0001, 10.0), grow=st.floats(1.0, 30.0),
       finest=st.integers(0, 15), target=st.integers(1, 100_000))
def test_resolution_is_bounded_and_never_finer_for_a_larger_extent(lat: float, lon: float, size: float, grow: float,
                                                                    finest: int, target: int) -> None:
    small = Extent(lat, lon, lat + size, lon + size)
    large = Extent(lat, lon, min(lat + size * grow, 90), min(lon + size * grow, 180))
    r_small, r_large = choose_map_resolution(small, finest, target), choose_map_resolution(large, finest, target)
    assert 0 <= r_large <= r_small <= finest
    if r_small > 0:
        assert cells_in_view(small, r_small) <= target  # the chosen one fits the target ...
    if r_small < finest:
        assert cells_in_view(small, r_small + 1) > target  # ... and the next finer one does not


# --- count classes ------------------------------------------------------------------------------------------------


def test_count_bins_ladders() -> None:
    assert count_bins(1) == [1]
    assert count_bins(176) == [1, 2, 5, 10, 20, 50, 100]
    assert count_bins(9_000) == [1, 3, 10, 30, 100, 300, 1000, 3000]  # 1-2-5 would make 12 classes
    assert count_bins(250_000) == [1, 10, 100, 1000, 10_000, 100_000]
    assert count_bins(10**18, max_bins=9) == [1, 10**3, 10**6, 10**9, 10**12, 10**15, 10**18]
    assert bin_labels([1, 2, 5], 7) == ["1", "2–4", "5–7"]
    assert bin_labels([1, 10, 100], 4_321) == ["1–9", "10–99", "100–4,321"]


@given(st.integers(1, 2**62), st.integers(1, 12))
def test_count_bins_are_increasing_start_at_one_and_respect_the_limit(max_count: int, max_bins: int) -> None:
    edges = count_bins(max_count, max_bins)
    assert edges[0] == 1 and len(edges) <= max_bins
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False)) and edges[-1] <= max_count


# --- GeoJSON layers -----------------------------------------------------------------------------------------------


def test_cells_geojson_has_the_hexagons_ids_as_strings_and_class_colours() -> None:
    cells = _cells(8, [1, 3, 40]).assign(n_zoned=[0, 2, 40])
    fc = cells_geojson(cells, 8, edges=[1, 2, 5, 10], colors=["a", "b", "c", "d"])
    assert len(fc["features"]) == 3
    first = fc["features"][0]
    cell = int(cells["cell"][0])
    assert first["properties"] == {"h3": h3.int_to_str(cell), "cell_bigint": str(cell), "resolution": 8,
                                   "points": 1, "points_in_zones": 0, "fill": "a"}
    assert [f["properties"]["fill"] for f in fc["features"]] == ["a", "b", "d"]
    hexagon = shapely.Polygon(first["geometry"]["coordinates"][0])
    lat, lng = h3i.cell_to_latlng(cell)
    assert hexagon.is_valid and hexagon.contains(shapely.Point(lng, lat))
    json.dumps(fc)  # plain JSON types only


def test_a_cell_across_the_antimeridian_stays_one_small_hexagon() -> None:
    cell = h3i.latlng_to_cell(0.0, 179.99, 2)
    fc = cells_geojson(pd.DataFrame({"cell": [cell], "n_points": [1]}), 2, [1], ["#000000"])
    ring = np.array(fc["features"][0]["geometry"]["coordinates"][0])
    assert np.ptp(ring[:, 0]) < 5  # not a band around the world


def test_zones_geojson_escapes_names_and_keeps_every_usable_zone() -> None:
    zones = _zones(["<img src=x onerror=alert(1)>", "plain"])
    zones.loc[1, "points_per_km2"] = np.nan
    fc = zones_geojson(zones, tolerance_deg=1e-5)
    props = [f["properties"] for f in fc["features"]]
    assert props[0]["name"] == "&lt;img src=x onerror=alert(1)&gt;" and props[0]["zone_id"] == "1"
    assert props[1] == {"zone_id": "2", "name": "plain", "points": 5, "points_per_km2": "n/a"}
    assert shapely.geometry.shape(fc["features"][0]["geometry"]).equals(shapely.box(-73.99, 40.70, -73.98, 40.72))


# --- the page -------------------------------------------------------------------------------------------------------


def test_page_is_self_contained_and_holds_both_layers() -> None:
    cells, zones = _cells(9, list(range(1, 38))), _zones(["a", "b", "c"])
    page = map_html(build_map(cells, zones, 9, title="t", notes=["n"]))
    assert external_resources(page) == []
    assert "cdn.jsdelivr" not in page and "code.jquery.com" not in page
    assert len(_data(page, CELL_CLASS)["features"]) == 37
    assert len(_data(page, ZONE_CLASS)["features"]) == 3
    assert "L.control.layers" in page and "fitBounds" in page
    assert 'id="map-legend"' in page and "1–1" not in page  # labels like "1", not "1–1"


def test_page_inlines_leaflet_from_the_wheel() -> None:
    script, css = leaflet_assets()
    assert 'version="1.9.3"' in script
    assert "url(images/" not in css and css.count("url(data:image/png;base64,") >= 3
    page = map_html(build_map(_cells(9, [1]), None, 9))
    assert script[:200] in page and ".leaflet-container" in page


def test_leaflet_wheel_matches_the_leaflet_folium_expects() -> None:
    from xstatic.pkg import leaflet as xstatic_leaflet

    expected = dict(folium.Map.default_js)["leaflet"]
    assert f"leaflet@{xstatic_leaflet.VERSION}/" in expected


def test_a_zone_name_cannot_break_out_of_the_page() -> None:
    page = map_html(build_map(_cells(9, [1]), _zones(["</script><script>alert(1)</script>"]), 9))
    assert "<script>alert(1)" not in page
    assert _data(page, ZONE_CLASS)["features"][0]["properties"]["name"] == \
        "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def test_tiles_are_optional() -> None:
    with_tiles = map_html(build_map(_cells(9, [1]), None, 9, tiles="OpenStreetMap.Mapnik"))
    without = map_html(build_map(_cells(9, [1]), None, 9, tiles="none"))
    assert "tile.openstreetmap.org" in with_tiles and "L.tileLayer" in with_tiles
    assert "L.tileLayer" not in without and "openstreetmap.org/{z}" not in without
    assert external_resources(with_tiles) == external_resources(without) == []


def test_an_empty_map_still_renders() -> None:
    empty = pd.DataFrame({"cell": pd.Series(dtype="int64"), "n_points": pd.Series(dtype="int64")})
    page = map_html(build_map(empty, None, 8))
    assert "L.map(" in page and external_resources(page) == []


def test_external_resources_finds_what_a_page_would_load() -> None:
    page = ('<script src="https://x/a.js"></script><link rel="stylesheet" href="b.css"/><img src="data:image/png;'
            'base64,AA"><style>.a{background:url(c.png)} .b{behavior:url(#default#VML)}</style>')
    assert external_resources(page) == ["https://x/a.js", "b.css", "c.png"]


def test_map_tiles_config_is_checked() -> None:
    assert GeospatialConfig(map_tiles="none").map_tiles == "none"
    assert GeospatialConfig(map_tiles="Esri.WorldImagery").map_tiles == "Esri.WorldImagery"
    with pytest.raises(ConfigError, match="xyzservices provider"):
        GeospatialConfig(map_tiles="https://tiles.example/{z}/{x}/{y}.png")
    with pytest.raises(ConfigError, match="API key"):
        GeospatialConfig(map_tiles="CartoDB.Positron")
