"""The map page in a real browser, with no network: headless Chromium draws every cell and zone.

Chromium comes from Debian's ``chromium`` package (.ci/run installs it); without /usr/bin/chromium these tests skip.
Every host name is made unresolvable, so the page is offline on any machine: the basemap tiles fail and the data
layers must draw all the same.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image

from usecases.geospatial.cells import latlng_to_cells
from usecases.geospatial.generate import generate_points, make_zones
from usecases.geospatial.geometry import clean_geometry
from usecases.geospatial.web_map import (
    CELL_CLASS,
    CELL_OPACITY,
    ZONE_CLASS,
    Extent,
    bin_colors,
    build_map,
    choose_map_resolution,
    count_bins,
    map_html,
)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs headless Chromium at /usr/bin/chromium (apt-get install chromium)")
WIDTH, HEIGHT = 1200, 900
BACKGROUND = np.array([0xDD, 0xDD, 0xDD])  # Leaflet's map background where no tile loaded


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on a local file, with the flags that keep it from hanging on a closed network."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--virtual-time-budget=10000",
               *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def city_page(spark, tmp_path_factory) -> tuple[Path, int, int, list[str]]:
    """The generated city as the aggregate task maps it: a page with its cells, zones and default basemap."""
    zones = make_zones(40, seed=7, plant_bad_rows=False)
    points = generate_points(spark, 20_000, zones, seed=7, plant_bad_rows=False).toPandas()
    lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
    extent = Extent(*np.quantile(lat, [0.001]), *np.quantile(lon, [0.001]), *np.quantile(lat, [0.999]),
                    *np.quantile(lon, [0.999]))
    resolution = choose_map_resolution(extent, finest=11)
    cells = (pd.Series(latlng_to_cells(lat, lon, resolution)).value_counts()
             .rename_axis("cell").reset_index(name="n_points"))
    geoms = [clean_geometry(text, 15, 10**12).geometry for text in zones["geometry"]]
    zone_frame = pd.DataFrame({"zone_id": zones["zone_id"], "name": zones["name"], "n_points": 1,
                               "wkb": [shapely.to_wkb(g) for g in geoms]})
    zone_frame.loc[0, ["name", "n_points"]] = ["<b>Harbour</b> & Co", 1234]  # HTML in a name must show as text
    page = tmp_path_factory.mktemp("map") / "h3_map.html"
    page.write_text(map_html(build_map(cells, zone_frame, resolution, view=extent, title="generated city")),
                    encoding="utf-8")
    colors = bin_colors(len(count_bins(int(cells["n_points"].max()))))
    return page, len(cells), len(zone_frame), colors


def test_browser_draws_one_path_per_cell_and_per_zone(city_page, tmp_path) -> None:
    page, n_cells, n_zones, _ = city_page
    dom = _chromium(page, tmp_path / "profile", "--dump-dom").stdout
    classes = re.findall(r'<path[^>]*class="([^"]*)"', dom)
    drawn = re.findall(r'<path[^>]*class="[^"]*"[^>]*d="M[-\d.]+ [-\d.]+L', dom) + \
        re.findall(r'<path[^>]*d="M[-\d.]+ [-\d.]+L[^"]*"[^>]*class=', dom)
    assert sum(CELL_CLASS in c.split() for c in classes) == n_cells > 300
    assert sum(ZONE_CLASS in c.split() for c in classes) == n_zones
    assert len(drawn) >= (n_cells + n_zones) * 0.9  # real outlines, not empty paths
    assert 'id="map-legend"' in dom and "leaflet-control-layers" in dom


def test_screenshot_shows_cells_and_zone_outlines(city_page, tmp_path) -> None:
    page, _, _, colors = city_page
    shot = tmp_path / "h3_map.png"
    _chromium(page, tmp_path / "profile", f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float).reshape(-1, 3)
    assert len(pixels) == WIDTH * HEIGHT

    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    on_map = CELL_OPACITY * rgb + (1 - CELL_OPACITY) * BACKGROUND  # a cell's fill as seen over the empty map
    distance = np.linalg.norm(pixels[:, None, :] - on_map[None, :, :], axis=2)
    cell_share = (distance.min(axis=1) < 12).mean()
    classes_seen = {int(k) for k in np.unique(distance.argmin(axis=1)[distance.min(axis=1) < 12])}
    magenta = (pixels[:, 0] > 150) & (pixels[:, 1] < 100) & (pixels[:, 2] > 80)
    background_share = (np.abs(pixels - BACKGROUND).max(axis=1) < 4).mean()

    assert cell_share > 0.08, f"only {cell_share:.1%} of the screenshot shows cell colours"
    assert len(classes_seen) >= len(colors) - 1, f"count classes drawn: {sorted(classes_seen)} of {len(colors)}"
    assert magenta.sum() > 2_000, f"zone outlines: {magenta.sum()} magenta pixels"
    assert background_share < 0.85


# Test-only: after load, move the mouse onto the first cell and the first zone outline, as a person would.
HOVER = """<script>
window.addEventListener("load", () => setTimeout(() => {
  for (const cls of ["CELL", "ZONE"]) {
    const path = document.querySelector("path." + cls);
    const box = path.getBoundingClientRect();
    const at = cls === "CELL" ? {x: box.left + box.width / 2, y: box.top + box.height / 2}
                            : path.getPointAtLength(0);
    const init = {bubbles: true, clientX: at.x, clientY: at.y, view: window};
    path.dispatchEvent(new MouseEvent("mouseover", init));
    path.dispatchEvent(new MouseEvent("mousemove", init));
  }
}, 500));
</script>""".replace("CELL", CELL_CLASS).replace("ZONE", ZONE_CLASS)


def test_hovering_shows_the_cell_and_zone_tooltips(city_page, tmp_path) -> None:
    page, _, _, _ = city_page
    hovered = tmp_path / "hovered.html"
    hovered.write_text(page.read_text(encoding="utf-8").replace("</html>", HOVER + "</html>"), encoding="utf-8")
    dom = _chromium(hovered, tmp_path / "profile", "--dump-dom").stdout
    tooltips = re.findall(r'<div class="leaflet-tooltip foliumtooltip[^"]*"[^>]*>(.*?)</div>', dom, re.S)
    assert len(tooltips) == 2, dom[-3000:]
    cell_tip, zone_tip = (t for t in sorted(tooltips, key=lambda t: "H3 cell" not in t))
    assert re.search(r"<th>H3 cell</th>\s*<td>8[0-9a-f]{14}</td>", cell_tip)
    assert re.search(r"<th>resolution</th>\s*<td>8</td>", cell_tip)
    assert re.search(r"<th>points</th>\s*<td>[\d,]+</td>", cell_tip)
    assert re.search(r"<th>zone_id</th>\s*<td>1</td>", zone_tip)
    assert "<td>&lt;b&gt;Harbour&lt;/b&gt; &amp; Co</td>" in zone_tip  # shown as text, not markup
    assert re.search(r"<th>points</th>\s*<td>1,234</td>", zone_tip)
