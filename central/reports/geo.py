"""Geometry shipped with RoomOps for the site map: a schematic outline of China (mainland, Hainan,
Taiwan and an inset for the South China Sea islands) and the cities of the offices, as
longitude/latitude. No tile server: a government intranet has none.

The outline is a hand-simplified schematic (about 120 vertices, a few kilometres to tens of
kilometres off), good for placing six offices, not for surveying. A map published outside the
intranet in China needs an approved base map (审图号): replace ``OUTLINE`` with one.
"""

from __future__ import annotations

import math

Point = tuple[float, float]           # (longitude, latitude)

#: mainland boundary, clockwise from the northern tip (Mohe)
MAINLAND: tuple[Point, ...] = (
    (121.5, 53.3), (123.5, 53.5), (125.5, 53.0), (127.0, 50.8), (127.6, 49.8), (130.6, 48.9),
    (132.5, 47.7), (134.7, 48.3), (134.0, 47.2), (133.1, 45.1), (131.8, 45.2), (131.0, 44.9),
    (131.2, 43.2), (130.6, 42.4), (129.7, 42.4), (129.0, 42.0), (128.0, 41.5), (126.6, 41.7),
    (125.3, 40.6), (124.3, 39.9), (123.0, 39.6), (121.6, 38.9), (121.2, 39.5), (122.2, 40.5),
    (121.0, 40.8), (119.5, 39.8), (118.0, 39.1), (117.7, 38.4), (118.9, 37.6), (119.5, 37.1),
    (120.7, 37.8), (122.5, 37.4), (121.2, 36.6), (120.3, 36.0), (119.2, 34.7), (120.3, 34.0),
    (120.8, 32.6), (121.9, 31.7), (121.9, 31.0), (121.0, 30.6), (121.9, 30.0), (121.5, 29.2),
    (121.3, 28.2), (120.6, 27.5), (120.0, 26.6), (119.6, 25.9), (119.5, 25.4), (118.6, 24.6),
    (118.1, 24.5), (117.2, 23.6), (116.5, 23.0), (115.4, 22.7), (114.2, 22.3), (113.5, 22.2),
    (112.6, 21.8), (111.5, 21.5), (110.6, 21.2), (110.3, 20.3), (109.7, 20.9), (109.8, 21.5),
    (108.5, 21.6), (107.4, 21.6), (106.7, 22.0), (106.6, 22.9), (105.5, 23.2), (104.5, 22.8),
    (103.9, 22.6), (103.0, 22.5), (102.2, 22.4), (101.7, 21.2), (101.1, 21.7), (100.1, 21.5),
    (99.2, 22.1), (99.5, 22.9), (98.8, 23.2), (98.7, 24.1), (97.6, 23.9), (97.7, 25.0),
    (98.6, 25.9), (98.7, 27.5), (97.5, 28.3), (96.2, 28.2), (95.4, 27.9), (94.0, 27.0),
    (92.6, 26.9), (91.6, 27.8), (89.6, 28.2), (89.0, 27.3), (88.1, 27.9), (86.9, 28.0),
    (85.0, 28.6), (84.0, 28.8), (82.0, 30.1), (81.2, 30.0), (79.5, 30.9), (78.8, 31.5),
    (78.7, 32.6), (78.4, 33.5), (79.5, 34.5), (78.0, 35.5), (77.8, 35.5), (76.0, 36.9),
    (74.9, 37.3), (74.8, 38.5), (73.6, 39.4), (74.0, 40.1), (75.5, 40.4), (76.9, 41.0),
    (78.4, 41.4), (80.2, 42.2), (80.8, 43.2), (80.4, 44.9), (82.5, 45.2), (83.0, 47.2),
    (85.5, 47.1), (85.8, 48.4), (87.3, 49.1), (88.9, 48.1), (90.0, 47.8), (90.9, 46.0),
    (90.6, 45.2), (93.5, 44.9), (95.4, 44.3), (96.4, 42.7), (100.8, 42.6), (104.9, 41.6),
    (107.3, 42.4), (110.4, 42.8), (111.9, 43.7), (111.4, 44.4), (113.6, 44.8), (116.0, 45.7),
    (117.8, 46.6), (119.9, 46.7), (118.6, 47.6), (115.6, 47.9), (116.7, 49.8), (117.9, 49.5),
    (119.3, 50.2), (120.1, 51.7), (120.8, 52.4),
)
HAINAN: tuple[Point, ...] = ((108.6, 19.2), (109.2, 18.4), (109.7, 18.2), (110.5, 18.4), (111.0, 19.6),
                             (110.7, 20.1), (109.2, 20.1))
TAIWAN: tuple[Point, ...] = ((121.0, 25.3), (121.9, 25.0), (121.6, 24.0), (121.5, 23.0), (120.8, 21.9),
                             (120.1, 23.0), (120.2, 24.0))
OUTLINE: tuple[tuple[Point, ...], ...] = (MAINLAND, HAINAN, TAIWAN)
#: the South China Sea inset (drawn in a box at the lower right, as Chinese maps do): its frame in
#: lon/lat and the dashed line as short segments
INSET_FRAME: tuple[Point, Point] = (106.0, 24.0), (122.0, 3.0)
INSET_DASHES: tuple[tuple[Point, Point], ...] = (
    ((108.3, 17.9), (108.6, 16.2)), ((109.6, 12.0), (109.4, 10.8)), ((108.3, 7.8), (109.1, 6.6)),
    ((110.6, 4.3), (111.9, 3.7)), ((113.7, 4.2), (114.9, 5.0)), ((116.9, 7.0), (117.4, 8.2)),
    ((118.6, 10.9), (119.1, 12.0)), ((119.5, 15.3), (119.7, 16.6)), ((119.9, 18.3), (120.6, 19.8)),
    ((121.7, 20.9), (122.0, 22.0)),
)

#: city -> (longitude, latitude, name zh, name en)
CITIES: dict[str, tuple[float, float, str, str]] = {
    "shanghai": (121.47, 31.23, "上海", "Shanghai"),
    "urumqi": (87.62, 43.83, "乌鲁木齐", "Urumqi"),
    "lhasa": (91.13, 29.65, "拉萨", "Lhasa"),
    "guangzhou": (113.26, 23.13, "广州", "Guangzhou"),
    "kunming": (102.83, 24.88, "昆明", "Kunming"),
    "xining": (101.78, 36.62, "西宁", "Xining"),
    "beijing": (116.40, 39.90, "北京", "Beijing"),
    "chengdu": (104.07, 30.67, "成都", "Chengdu"),
    "harbin": (126.64, 45.76, "哈尔滨", "Harbin"),
    "hohhot": (111.75, 40.84, "呼和浩特", "Hohhot"),
    "lanzhou": (103.83, 36.06, "兰州", "Lanzhou"),
    "yinchuan": (106.23, 38.49, "银川", "Yinchuan"),
    "nanning": (108.37, 22.82, "南宁", "Nanning"),
    "haikou": (110.35, 20.02, "海口", "Haikou"),
}


def city_of(site_id: str, name: str = "", name_zh: str = "") -> tuple[float, float] | None:
    """The position of a site: the city its id or name names ("shanghai-hq" -> Shanghai)."""
    text = f"{site_id} {name}".lower()
    for key, (lon, lat, zh, _) in CITIES.items():
        if key in text or (name_zh and zh in name_zh):
            return lon, lat
    return None


class Projection:
    """Longitude/latitude -> SVG/PDF coordinates: equirectangular, longitudes shrunk by the cosine
    of the middle latitude so the country keeps its shape; y grows downwards."""

    WEST, EAST, NORTH, SOUTH = 73.0, 135.5, 54.0, 17.5

    def __init__(self, width: float) -> None:
        self.scale_x = math.cos(math.radians(36.0))
        self.k = width / ((self.EAST - self.WEST) * self.scale_x)
        self.width = width
        self.height = (self.NORTH - self.SOUTH) * self.k

    def __call__(self, point: Point) -> tuple[float, float]:
        lon, lat = point
        return (lon - self.WEST) * self.scale_x * self.k, (self.NORTH - lat) * self.k

    def inset(self, point: Point, box: tuple[float, float, float, float]) -> tuple[float, float]:
        """A point of the South China Sea inset inside ``box`` (x, y, w, h) of the drawing."""
        (west, north), (east, south) = INSET_FRAME
        x, y, w, h = box
        lon, lat = point
        return x + (lon - west) / (east - west) * w, y + (north - lat) / (north - south) * h
