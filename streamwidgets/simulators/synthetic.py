"""Realistic synthetic events for the feed simulators.

A :class:`SyntheticWorld` holds the state of one small, made-up world (aircraft that fly,
ships that sail, markets that random-walk, alerts that are issued and later cleared) and
returns one domain payload per call. Payloads are plain dicts of JSON-ready values; each
simulator wraps them in its own envelope and adds its own ids, so the same world serves
every feed style.

Everything except wall-clock timestamps is deterministic given the seed: the world moves
on a simulated clock (``step_s`` seconds per aircraft or vessel update), not on real time,
so the same seed and the same sequence of calls give the same payloads.

Example:
    >>> world = SyntheticWorld(seed=1)
    >>> pos = world.aircraft_position(now_ms=1_710_000_000_000)
    >>> sorted(pos)[:4]
    ['altitude', 'callsign', 'category', 'country']
    >>> SyntheticWorld(seed=1).market_update(0) == SyntheticWorld(seed=1).market_update(0)
    True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["SIGNAL_CATEGORIES", "SyntheticWorld"]

SIGNAL_CATEGORIES: tuple[str, ...] = (
    "AIRCRAFT_MOVEMENT",
    "NAVAL",
    "MISSILE_ALERT",
    "CYBER",
    "AIRSPACE",
    "MARKET_MOVEMENT",
    "SOCIAL_MEDIA",
    "DIPLOMATIC",
    "FORCE_DEPLOYMENT",
    "NUCLEAR",
    "COMMUNICATIONS",
    "OTHER",
)

# (name, south, west, north, east): areas where the made-up world's traffic happens.
_REGIONS: tuple[tuple[str, float, float, float, float], ...] = (
    ("Eastern Mediterranean", 31.0, 28.0, 37.0, 36.0),
    ("Black Sea", 41.5, 28.5, 46.5, 41.0),
    ("Persian Gulf", 24.0, 48.0, 30.0, 56.5),
    ("Red Sea", 13.0, 38.0, 22.0, 43.0),
    ("Taiwan Strait", 22.0, 117.5, 26.5, 121.5),
    ("Baltic Sea", 54.0, 12.0, 60.0, 24.0),
    ("Korean Peninsula", 34.0, 124.5, 39.5, 130.0),
)

# (place, lat, lng): seismically active spots, so quakes land where quakes happen.
_SEISMIC_ZONES: tuple[tuple[str, float, float], ...] = (
    ("Honshu, Japan", 38.3, 142.4),
    ("Central Chile", -33.5, -72.0),
    ("Sumatra, Indonesia", 2.0, 96.5),
    ("Anatolia, Turkey", 38.5, 38.0),
    ("Southern California", 34.0, -117.5),
    ("Alaska Peninsula", 56.0, -156.0),
    ("Kermadec Islands", -30.0, -178.0),
    ("Hindu Kush, Afghanistan", 36.5, 70.8),
    ("Central Italy", 42.7, 13.2),
    ("Guerrero, Mexico", 17.0, -100.0),
)

_AIRCRAFT_TYPES: tuple[tuple[str, str, bool, int, int], ...] = (
    # icaoType, category, isMilitary, cruise knots, cruise feet
    ("B738", "A3", False, 450, 36000),
    ("A320", "A3", False, 447, 35000),
    ("A359", "A5", False, 488, 39000),
    ("C17", "A5", True, 450, 28000),
    ("K35R", "A5", True, 460, 30000),
    ("P8", "A3", True, 440, 25000),
    ("RQ4", "B6", True, 310, 55000),
    ("E3TF", "A5", True, 420, 29000),
    ("C130", "A4", True, 300, 24000),
    ("GLF5", "A2", False, 480, 43000),
)
_CALLSIGN_PREFIXES: tuple[tuple[str, str], ...] = (
    ("THY", "TR"),
    ("UAE", "AE"),
    ("RRR", "GB"),
    ("RCH", "US"),
    ("NATO", "BE"),
    ("DLH", "DE"),
    ("FORTE", "US"),
    ("LAGR", "US"),
    ("AFR", "FR"),
    ("QTR", "QA"),
)
_PATTERNS = ("orbit", "racetrack", "loiter", "holding", "sudden_descent", "squawk_7700")

_SHIP_TYPES = ("Cargo", "Tanker", "Passenger", "Military", "Fishing", "Tug", "LNG Carrier")
_SHIP_NAMES = (
    "AEGEAN STAR",
    "NORDIC HAWK",
    "PACIFIC DAWN",
    "OCEAN PRIDE",
    "MARIA K",
    "SEA LION",
    "EVER GRACE",
    "BALTIC TRADER",
    "GULF SPIRIT",
    "RED HORIZON",
    "CAPE ORCHID",
    "ATLAS",
)
_FLAGS = ("PA", "LR", "MH", "MT", "GR", "CN", "SG", "RU", "TR", "NO")
_NAV_STATUSES = (
    "under_way_using_engine",
    "at_anchor",
    "moored",
    "restricted_manoeuvrability",
    "not_under_command",
    "engaged_in_fishing",
)
_PORTS = ("PIRAEUS", "HAIFA", "NOVOROSSIYSK", "JEBEL ALI", "JEDDAH", "KAOHSIUNG", "GDANSK")

_MARKETS: tuple[tuple[str, float, float], ...] = (
    # symbol, opening price, volatility per tick (log-return standard deviation)
    ("BTC-USD", 65000.0, 0.0012),
    ("ETH-USD", 3400.0, 0.0015),
    ("SOL-USD", 150.0, 0.002),
    ("SPX", 5200.0, 0.0003),
    ("WTI", 78.0, 0.0008),
    ("BRENT", 82.0, 0.0008),
    ("GOLD", 2350.0, 0.0004),
    ("EURUSD", 1.08, 0.0002),
    ("NATGAS", 2.6, 0.0015),
    ("VIX", 14.0, 0.004),
)

_SIGNAL_TITLES: dict[str, tuple[str, ...]] = {
    "AIRCRAFT_MOVEMENT": ("Tanker orbit over {r}", "Unusual ISR flight near {r}"),
    "NAVAL": ("Naval group transiting {r}", "Warship AIS gap in {r}"),
    "MISSILE_ALERT": ("Launch reported toward {r}", "Air-raid sirens across {r}"),
    "CYBER": ("DDoS against infrastructure near {r}", "Wiper malware reported in {r}"),
    "AIRSPACE": ("Airspace closure over {r}", "NOTAM restricts flights in {r}"),
    "MARKET_MOVEMENT": ("Oil futures jump on {r} news", "Shipping insurance spikes for {r}"),
    "SOCIAL_MEDIA": ("Footage of explosions shared from {r}", "Reports trending from {r}"),
    "DIPLOMATIC": ("Ambassador recalled over {r}", "Emergency talks on {r}"),
    "FORCE_DEPLOYMENT": ("Armour moving toward {r}", "Troop buildup reported near {r}"),
    "NUCLEAR": ("Radiation readings checked in {r}", "Nuclear site activity near {r}"),
    "COMMUNICATIONS": ("GPS jamming across {r}", "Internet outage reported in {r}"),
    "OTHER": ("Unconfirmed incident in {r}", "Power outage reported in {r}"),
}
_TAGS = (
    "breaking",
    "unconfirmed",
    "osint",
    "military",
    "civilian",
    "maritime",
    "aviation",
    "energy",
    "sanctions",
    "ais",
    "adsb",
    "satellite",
)
_ADVERSARIES = ("APT28", "Sandworm", "Lazarus Group", "APT41", "Volt Typhoon", "unknown")
_MALWARE = ("AcidRain", "Industroyer2", "PlugX", "Cobalt Strike", "ShadowPad", "HermeticWiper")
_INDUSTRIES = ("Energy", "Telecommunications", "Government", "Finance", "Shipping", "Defense")
_PLATFORMS = ("x", "telegram", "reddit")


@dataclass(slots=True)
class _Craft:
    icao_hex: str
    callsign: str
    registration: str
    icao_type: str
    category: str
    is_military: bool
    country: str
    region: tuple[str, float, float, float, float]
    lat: float
    lng: float
    altitude: float
    target_altitude: float
    speed: float
    track: float
    squawk: str


@dataclass(slots=True)
class _Vessel:
    mmsi: int
    name: str
    ship_type: str
    flag: str
    region: tuple[str, float, float, float, float]
    lat: float
    lng: float
    sog: float
    cog: float
    status: str
    destination: str


class SyntheticWorld:
    """A small seeded world that produces one plausible payload per call.

    Args:
        seed: seeds every random draw; equal seeds give equal payloads.
        aircraft: how many aircraft fly in the world.
        vessels: how many ships sail in it.
        step_s: simulated seconds a craft moves between two of its position updates.

    Example:
        >>> w = SyntheticWorld(seed=7)
        >>> w.signal(now_ms=0)["category"] in SIGNAL_CATEGORIES
        True
    """

    def __init__(
        self, seed: int = 0, *, aircraft: int = 24, vessels: int = 16, step_s: float = 5.0
    ) -> None:
        self.rng = random.Random(seed)
        self.step_s = step_s
        self._craft = [self._new_craft(i) for i in range(aircraft)]
        self._vessels = [self._new_vessel(i) for i in range(vessels)]
        self._next_craft = 0
        self._next_vessel = 0
        self._prices = {sym: price for sym, price, _ in _MARKETS}
        self._open = dict(self._prices)
        self._alerts: list[dict[str, Any]] = []
        self._restrictions: list[dict[str, Any]] = []
        self._serial = 0

    # -- helpers -----------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial:06d}"

    def _point(self, region: tuple[str, float, float, float, float]) -> tuple[float, float]:
        _, s, w, n, e = region
        return self.rng.uniform(s, n), self.rng.uniform(w, e)

    def _new_craft(self, i: int) -> _Craft:
        rng = self.rng
        icao_type, category, military, knots, feet = rng.choice(_AIRCRAFT_TYPES)
        prefix, country = rng.choice(_CALLSIGN_PREFIXES)
        region = rng.choice(_REGIONS)
        lat, lng = self._point(region)
        return _Craft(
            icao_hex=f"{rng.getrandbits(24):06x}",
            callsign=f"{prefix}{rng.randint(1, 999)}",
            registration=f"{country}-{rng.randint(1000, 9999)}",
            icao_type=icao_type,
            category=category,
            is_military=military,
            country=country,
            region=region,
            lat=lat,
            lng=lng,
            altitude=float(feet + rng.randint(-4, 4) * 1000),
            target_altitude=float(feet),
            speed=float(knots + rng.randint(-30, 30)),
            track=rng.uniform(0.0, 360.0),
            squawk=f"{rng.randint(0, 7)}{rng.randint(0, 7)}{rng.randint(0, 7)}{rng.randint(0, 7)}",
        )

    def _new_vessel(self, i: int) -> _Vessel:
        rng = self.rng
        region = rng.choice(_REGIONS)
        lat, lng = self._point(region)
        return _Vessel(
            mmsi=rng.randint(200_000_000, 775_999_999),
            name=f"{rng.choice(_SHIP_NAMES)} {i + 1}",
            ship_type=rng.choice(_SHIP_TYPES),
            flag=rng.choice(_FLAGS),
            region=region,
            lat=lat,
            lng=lng,
            sog=round(rng.uniform(8.0, 18.0), 1),
            cog=rng.uniform(0.0, 360.0),
            status=_NAV_STATUSES[0],
            destination=rng.choice(_PORTS),
        )

    @staticmethod
    def _advance(
        lat: float, lng: float, knots: float, course: float, seconds: float
    ) -> tuple[float, float]:
        metres = knots * 0.514444 * seconds
        rad = math.radians(course)
        lat2 = lat + metres * math.cos(rad) / 111_320.0
        lng2 = lng + metres * math.sin(rad) / (111_320.0 * max(math.cos(math.radians(lat)), 0.1))
        return lat2, lng2

    @staticmethod
    def _bounce(
        lat: float, lng: float, course: float, region: tuple[str, float, float, float, float]
    ) -> float:
        # Turn back towards the middle rather than wrap around: tracks stay continuous.
        _, s, w, n, e = region
        if s <= lat <= n and w <= lng <= e:
            return course
        mid_lat, mid_lng = (s + n) / 2, (w + e) / 2
        return math.degrees(math.atan2(mid_lng - lng, mid_lat - lat)) % 360.0

    # -- aircraft ----------------------------------------------------------------------------

    def aircraft_position(self, now_ms: int) -> dict[str, Any]:
        """Move the next aircraft one step and return its position report."""
        c = self._craft[self._next_craft]
        self._next_craft = (self._next_craft + 1) % len(self._craft)
        rng = self.rng
        c.track = (c.track + rng.gauss(0.0, 4.0)) % 360.0
        c.speed = max(120.0, c.speed + rng.gauss(0.0, 3.0))
        climb = max(-2500.0, min(2500.0, (c.target_altitude - c.altitude) * 0.2))
        climb += rng.gauss(0.0, 150.0)
        c.altitude = max(500.0, c.altitude + climb * self.step_s / 60.0)
        c.lat, c.lng = self._advance(c.lat, c.lng, c.speed, c.track, self.step_s)
        c.track = self._bounce(c.lat, c.lng, c.track, c.region)
        return {
            "icaoHex": c.icao_hex,
            "callsign": c.callsign,
            "registration": c.registration,
            "icaoType": c.icao_type,
            "category": c.category,
            "isMilitary": c.is_military,
            "country": c.country,
            "lat": round(c.lat, 5),
            "lng": round(c.lng, 5),
            "altitude": int(c.altitude),
            "groundSpeed": round(c.speed, 1),
            "track": round(c.track, 1),
            "verticalRate": int(climb),
            "squawk": c.squawk,
            "timestamp": now_ms,
        }

    def aircraft_pattern(self, now_ms: int) -> dict[str, Any]:
        """Report a flight pattern (orbit, racetrack, ...) flown by one of the aircraft."""
        c = self.rng.choice(self._craft)
        return {
            "icaoHex": c.icao_hex,
            "callsign": c.callsign,
            "pattern": self.rng.choice(_PATTERNS),
            "confidence": round(self.rng.uniform(0.55, 0.99), 2),
            "lat": round(c.lat, 5),
            "lng": round(c.lng, 5),
            "region": c.region[0],
            "durationS": self.rng.randint(300, 7200),
            "detectedAt": now_ms,
        }

    # -- vessels -----------------------------------------------------------------------------

    def vessel_position(self, now_ms: int) -> dict[str, Any]:
        """Move the next vessel one step and return its AIS-style position report."""
        v = self._vessels[self._next_vessel]
        self._next_vessel = (self._next_vessel + 1) % len(self._vessels)
        if v.status == "under_way_using_engine":
            v.cog = (v.cog + self.rng.gauss(0.0, 2.0)) % 360.0
            v.sog = round(min(24.0, max(4.0, v.sog + self.rng.gauss(0.0, 0.3))), 1)
            v.lat, v.lng = self._advance(v.lat, v.lng, v.sog, v.cog, self.step_s * 6)
            v.cog = self._bounce(v.lat, v.lng, v.cog, v.region)
        sog = v.sog if v.status == "under_way_using_engine" else 0.0
        return {
            "mmsi": v.mmsi,
            "name": v.name,
            "shipType": v.ship_type,
            "flag": v.flag,
            "lat": round(v.lat, 5),
            "lng": round(v.lng, 5),
            "sog": sog,
            "cog": round(v.cog, 1),
            "heading": int(v.cog),
            "navStatus": v.status,
            "destination": v.destination,
            "timestamp": now_ms,
        }

    def vessel_status(self, now_ms: int) -> dict[str, Any]:
        """Change one vessel's navigational status and report the change."""
        v = self.rng.choice(self._vessels)
        old = v.status
        v.status = self.rng.choice([s for s in _NAV_STATUSES if s != old])
        return {
            "mmsi": v.mmsi,
            "name": v.name,
            "previousStatus": old,
            "navStatus": v.status,
            "lat": round(v.lat, 5),
            "lng": round(v.lng, 5),
            "changedAt": now_ms,
        }

    # -- alerts and airspace -----------------------------------------------------------------

    def alert(self, now_ms: int) -> tuple[str, dict[str, Any]]:
        """Issue a new alert or clear an active one; returns ``("issued"|"cleared", data)``."""
        rng = self.rng
        if self._alerts and (len(self._alerts) >= 8 or rng.random() < 0.35):
            alert = self._alerts.pop(rng.randrange(len(self._alerts)))
            reason = rng.choice(("all_clear", "expired", "superseded"))
            return "cleared", {
                "alertId": alert["alertId"],
                "region": alert["region"],
                "reason": reason,
                "clearedAt": now_ms,
            }
        region = rng.choice(_REGIONS)
        lat, lng = self._point(region)
        category = rng.choice(("MISSILE_ALERT", "AIRSPACE", "NAVAL", "CYBER", "NUCLEAR"))
        alert = {
            "alertId": self._id("alert"),
            "level": rng.choices(("advisory", "warning", "critical"), (5, 3, 1))[0],
            "category": category,
            "title": f"{category.replace('_', ' ').title()} alert for {region[0]}",
            "region": region[0],
            "lat": round(lat, 4),
            "lng": round(lng, 4),
            "radiusKm": rng.choice((10, 25, 50, 100, 250)),
            "issuedAt": now_ms,
            "expiresAt": now_ms + rng.randint(15, 240) * 60_000,
        }
        self._alerts.append(alert)
        return "issued", dict(alert)

    def restriction(self, now_ms: int) -> tuple[str, dict[str, Any]]:
        """Activate an airspace restriction or expire one; ``("active"|"expired", data)``."""
        rng = self.rng
        if self._restrictions and (len(self._restrictions) >= 6 or rng.random() < 0.4):
            r = self._restrictions.pop(0)
            return "expired", {"notamId": r["notamId"], "region": r["region"], "expiredAt": now_ms}
        region = rng.choice(_REGIONS)
        lat, lng = self._point(region)
        floor = rng.choice((0, 0, 5000, 10000))
        r = {
            "notamId": f"{rng.choice('ABCH')}{rng.randint(1000, 9999)}/{rng.randint(24, 26)}",
            "kind": rng.choice(("TFR", "Danger", "Restricted", "Prohibited")),
            "region": region[0],
            "lat": round(lat, 4),
            "lng": round(lng, 4),
            "radiusNm": rng.choice((5, 10, 30, 60, 120)),
            "floorFt": floor,
            "ceilingFt": floor + rng.choice((18000, 45000, 60000)),
            "reason": rng.choice(
                (
                    "military exercise",
                    "missile activity",
                    "VIP movement",
                    "conflict zone",
                    "rocket launch",
                )
            ),
            "effectiveFrom": now_ms,
            "effectiveTo": now_ms + rng.randint(1, 72) * 3_600_000,
        }
        self._restrictions.append(r)
        return "active", dict(r)

    # -- signals, cyber, social --------------------------------------------------------------

    def signal(self, now_ms: int) -> dict[str, Any]:
        """A new intelligence signal: title, category, severity 1-5, place and tags."""
        rng = self.rng
        category = rng.choice(SIGNAL_CATEGORIES)
        region = rng.choice(_REGIONS)
        lat, lng = self._point(region)
        title = rng.choice(_SIGNAL_TITLES[category]).format(r=region[0])
        return {
            "title": title,
            "description": f"{title}. Source reports are being corroborated; "
            f"{rng.randint(2, 9)} independent mentions in the last hour.",
            "category": category,
            "severity": rng.choices((1, 2, 3, 4, 5), (30, 30, 20, 13, 7))[0],
            "lat": round(lat, 4),
            "lng": round(lng, 4),
            "tags": rng.sample(_TAGS, rng.randint(1, 4)),
            "createdAt": now_ms,
        }

    def threat_pulse(self, now_ms: int) -> dict[str, Any]:
        """A cyber threat-intelligence pulse with a few indicators of compromise."""
        rng = self.rng
        adversary = rng.choice(_ADVERSARIES)
        indicators = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(("IPv4", "domain", "FileHash-SHA256"))
            if kind == "IPv4":
                value = ".".join(str(rng.randint(1, 254)) for _ in range(4))
            elif kind == "domain":
                value = (
                    f"{rng.choice(('cdn', 'update', 'mail', 'sync'))}-{rng.randint(10, 99)}."
                    f"{rng.choice(('net', 'org', 'info', 'top'))}"
                )
            else:
                value = f"{rng.getrandbits(256):064x}"
            indicators.append({"type": kind, "indicator": value})
        return {
            "name": f"{adversary} activity against {rng.choice(_INDUSTRIES).lower()} sector",
            "adversary": adversary,
            "malwareFamilies": rng.sample(_MALWARE, rng.randint(0, 2)),
            "industries": rng.sample(_INDUSTRIES, rng.randint(1, 3)),
            "targetedCountries": rng.sample(("UA", "PL", "US", "TW", "IL", "DE", "KR"), 2),
            "indicators": indicators,
            "tlp": rng.choice(("white", "green", "amber")),
            "severity": rng.randint(1, 5),
            "createdAt": now_ms,
        }

    def osint_post(self, now_ms: int) -> dict[str, Any]:
        """A social-media post picked up as an open-source signal."""
        rng = self.rng
        region = rng.choice(_REGIONS)
        lat, lng = self._point(region)
        category = rng.choice(SIGNAL_CATEGORIES)
        handle = f"{rng.choice(('osint', 'intel', 'watch', 'monitor'))}_{rng.randint(1, 999)}"
        text = rng.choice(_SIGNAL_TITLES[category]).format(r=region[0])
        return {
            "platform": rng.choice(_PLATFORMS),
            "handle": handle,
            "text": f"{text} #{rng.choice(_TAGS)}",
            "lang": rng.choice(("en", "en", "en", "ru", "uk", "ar", "zh", "he")),
            "category": category,
            "lat": round(lat, 4),
            "lng": round(lng, 4),
            "likes": int(rng.paretovariate(1.2) * 10),
            "reposts": int(rng.paretovariate(1.3) * 3),
            "sentiment": round(rng.uniform(-1.0, 1.0), 2),
            "postedAt": now_ms,
        }

    # -- markets and earthquakes -------------------------------------------------------------

    def market_update(self, now_ms: int) -> dict[str, Any]:
        """One tick of a geometric random walk for a randomly chosen symbol."""
        symbol, _, sigma = self.rng.choice(_MARKETS)
        return self._tick(symbol, sigma * self.rng.gauss(0.0, 1.0), now_ms)

    def price_spike(self, now_ms: int) -> dict[str, Any]:
        """A sudden jump of several standard deviations in one symbol."""
        symbol, _, sigma = self.rng.choice(_MARKETS)
        previous = self._prices[symbol]
        jump = sigma * self.rng.uniform(6.0, 15.0) * self.rng.choice((-1.0, 1.0))
        data = self._tick(symbol, jump, now_ms)
        data["previousPrice"] = _round_price(previous)
        data["direction"] = "up" if jump > 0 else "down"
        data["window"] = "1m"
        return data

    def _tick(self, symbol: str, log_return: float, now_ms: int) -> dict[str, Any]:
        price = self._prices[symbol] * math.exp(log_return)
        self._prices[symbol] = price
        opening = self._open[symbol]
        spread = price * 0.0001
        return {
            "symbol": symbol,
            "price": _round_price(price),
            "bid": _round_price(price - spread),
            "ask": _round_price(price + spread),
            "change": round(price - opening, 2 if opening >= 100 else 5),
            "changePct": round((price / opening - 1.0) * 100.0, 3),
            "volume": round(self.rng.lognormvariate(3.0, 1.0), 3),
            "timestamp": now_ms,
        }

    def seismic_event(self, now_ms: int) -> dict[str, Any]:
        """An earthquake near a real fault zone, magnitudes following Gutenberg-Richter (b=1)."""
        rng = self.rng
        place, lat0, lng0 = rng.choice(_SEISMIC_ZONES)
        magnitude = min(9.1, 2.5 + rng.expovariate(math.log(10.0)))
        depth = rng.expovariate(1 / 25.0) if rng.random() < 0.85 else rng.uniform(70.0, 650.0)
        distance = rng.randint(3, 120)
        bearing = rng.choice(("N", "NE", "E", "SE", "S", "SW", "W", "NW", "NNE", "SSW"))
        return {
            "magnitude": round(magnitude, 1),
            "magnitudeType": "mb" if magnitude < 4.0 else "mww",
            "depth": round(depth, 1),
            "lat": round(lat0 + rng.gauss(0.0, 0.6), 4),
            "lng": round(lng0 + rng.gauss(0.0, 0.6), 4),
            "place": f"{distance} km {bearing} of {place}",
            "tsunami": magnitude >= 7.0 and depth < 70.0,
            "occurredAt": now_ms - rng.randint(5_000, 120_000),
        }


def _round_price(price: float) -> float:
    # Keep a sensible number of significant digits for both 65000 and 1.08.
    return round(price, 2 if price >= 100 else 5)
