"""An estimate of the energy a run used and of the emissions of producing it.

Nothing here measures power: a batch job on a shared or virtual machine rarely can (RAPL
counters need root and do not exist in most VMs). Instead a small linear model turns what is
measured cheaply and portably into energy, in the way of CodeCarbon's fallback ("constant")
mode and of the Green Algorithms calculator, without their dependencies::

    energy_J = PUE x (watts_per_core x cpu_seconds + MEMORY_WATTS_PER_GIB x rss_GiB x wall_seconds)
    kWh      = energy_J / 3.6e6
    gCO2e    = kWh x carbon_intensity (gCO2e/kWh of the machine's grid)

``cpu_seconds`` is process CPU time (user + system, all threads), so a core busy for one second
costs ``watts_per_core`` joules and an idle process costs nothing for its CPU; memory is powered
for the whole wall time whether used or not, so it is charged per GiB of peak RSS and wall second.
The result is an order-of-magnitude figure for comparing runs and pipelines, not a meter reading:
idle power of the machine, disks, network and embodied emissions are left out.

Constants and their sources
---------------------------
- ``DEFAULT_WATTS_PER_CORE = 12.0`` W per busy core: the "Any" (unknown CPU) thermal design
  power per core of the Green Algorithms calculator (Lannelongue, Grealey & Inouye, "Green
  Algorithms: Quantifying the Carbon Footprint of Computation", Advanced Science 2021;
  github.com/GreenAlgorithms/green-algorithms-tool, data/latest/TDP_cpu.csv). For scale, in the
  same table a Xeon Gold 6248 has 7.5 W/core (150 W / 20 cores) and a desktop Core i7-8700K
  15.8 W/core; CodeCarbon's constant mode uses 50 % of an 85 W TDP for a whole CPU of unknown
  model (codecarbon/external/hardware.py ``POWER_CONSTANT``, ``CONSUMPTION_PERCENTAGE_CONSTANT``).
  Set ``observability.energy.watts_per_core`` to your CPU's TDP divided by its cores.
- ``MEMORY_WATTS_PER_GIB = 0.375`` W per GiB: CodeCarbon's RAM model, 3 W per 8 GB (CodeCarbon
  methodology, docs "RAM"; its source is Crucial, "How much power does memory use?"). CodeCarbon
  applies it to total RAM; here it is applied to the run's peak RSS, the memory the run held.
- ``PUE = 1.0``: power usage effectiveness, the data centre's overhead for cooling and power
  delivery. 1.0 charges only the machine, as CodeCarbon does by default (its ``pue`` parameter
  defaults to 1.0); the Green Algorithms calculator uses 1.67, the 2019 global average of the
  Uptime Institute survey, for an unknown data centre.
- ``GRID_INTENSITY``: average carbon intensity of electricity generation in gCO2e/kWh (lifecycle
  emissions per Ember's methodology) for 2024, from Ember's yearly electricity data
  (ember-energy.org, CC BY 4.0; the same series Our World in Data charts as "Carbon intensity of
  electricity generation"), as extracted by the Green Web Foundation's co2.js
  (data/output/average-intensities.json, every entry below marked year 2024). ``None`` as the
  country means the world average of the same series. A country missing here is a
  ``ConfigError``: set ``observability.energy.carbon_intensity`` to its figure instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tidegate.spec.observability import EnergySpec

__all__ = [
    "DEFAULT_WATTS_PER_CORE",
    "GRID_INTENSITY",
    "GRID_SOURCE",
    "MEMORY_WATTS_PER_GIB",
    "PUE",
    "WORLD_INTENSITY",
    "Energy",
    "Grid",
    "estimate_energy",
    "grid_for",
]

DEFAULT_WATTS_PER_CORE: Final = 12.0
MEMORY_WATTS_PER_GIB: Final = 0.375
PUE: Final = 1.0

GRID_SOURCE: Final = "Ember 2024"
WORLD_INTENSITY: Final = 473.05

GRID_INTENSITY: Final[Mapping[str, float]] = {
    # the 27 EU member states
    "AT": 102.62,
    "BE": 117.58,
    "BG": 264.21,
    "CY": 512.24,
    "CZ": 413.86,
    "DE": 344.14,
    "DK": 143.30,
    "EE": 341.02,
    "ES": 146.15,
    "FI": 72.25,
    "FR": 44.18,
    "GR": 319.76,
    "HR": 174.48,
    "HU": 182.82,
    "IE": 279.70,
    "IT": 287.53,
    "LT": 139.34,
    "LU": 134.62,
    "LV": 136.22,
    "MT": 484.16,
    "NL": 253.31,
    "PL": 614.98,
    "PT": 112.29,
    "RO": 245.55,
    "SE": 35.82,
    "SI": 227.65,
    "SK": 96.49,
    # the rest of Europe
    "CH": 36.60,
    "GB": 210.89,
    "NO": 30.75,
    # the rest of the world
    "AU": 551.59,
    "BR": 103.21,
    "CA": 174.81,
    "CN": 559.55,
    "IN": 708.32,
    "JP": 482.32,
    "KR": 414.27,
    "MX": 484.83,
    "NZ": 120.11,
    "SG": 498.74,
    "US": 383.55,
    "ZA": 708.88,
}

_JOULES_PER_KWH = 3.6e6
_BYTES_PER_GIB = 2**30


@dataclass(frozen=True, slots=True, kw_only=True)
class Grid:
    """The grid a run draws from: country code (or ``world``), gCO2e/kWh and where it is from."""

    country: str
    intensity: float
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Energy:
    """A run's estimated energy (kWh) and emissions (gCO2e), with the model that produced them.

    ``model`` is one line naming every constant used, so a stored figure stays explainable
    after the defaults change.
    """

    kwh: float
    co2e_g: float
    carbon_intensity: float
    country: str
    model: str


def grid_for(spec: EnergySpec | None = None) -> Grid:
    """The carbon intensity to apply: the configured override, the country's, or the world's.

    Raises ``ConfigError`` for a country without a figure (and no override), so a typo in
    ``observability.energy.country`` is caught when the run is set up, not silently averaged.
    """
    country = spec.country.strip().upper() if spec and spec.country else None
    if spec is not None and spec.carbon_intensity is not None:
        return Grid(
            country=country or "world", intensity=spec.carbon_intensity, source="configured"
        )
    if country is None:
        return Grid(country="world", intensity=WORLD_INTENSITY, source=GRID_SOURCE)
    intensity = GRID_INTENSITY.get(country)
    if intensity is None:
        known = ", ".join(sorted(GRID_INTENSITY))
        raise ConfigError(
            f"no grid carbon intensity for country {spec.country if spec else country!r}",
            location="observability.energy.country",
            hint=f"use an ISO 3166-1 alpha-2 code among {known}; leave it out for the world "
            "average, or set observability.energy.carbon_intensity (gCO2e/kWh) for your grid",
        )
    return Grid(country=country, intensity=intensity, source=GRID_SOURCE)


def estimate_energy(
    *,
    cpu_seconds: float,
    wall_seconds: float,
    rss_bytes: int,
    spec: EnergySpec | None = None,
) -> Energy:
    """Estimate the energy and emissions of ``cpu_seconds`` of CPU time and ``rss_bytes`` of
    memory held for ``wall_seconds`` (see the module docstring for the model and its sources).
    """
    grid = grid_for(spec)
    watts_per_core = (
        spec.watts_per_core if spec and spec.watts_per_core is not None else DEFAULT_WATTS_PER_CORE
    )
    gib = rss_bytes / _BYTES_PER_GIB
    joules = PUE * (watts_per_core * cpu_seconds + MEMORY_WATTS_PER_GIB * gib * wall_seconds)
    kwh = joules / _JOULES_PER_KWH
    model = (
        f"cpu {watts_per_core:g} W/core x cpu-s + memory {MEMORY_WATTS_PER_GIB:g} W/GiB x wall-s"
        f", PUE {PUE:g}; grid {grid.country} {grid.intensity:.0f} g/kWh ({grid.source})"
    )
    return Energy(
        kwh=kwh,
        co2e_g=kwh * grid.intensity,
        carbon_intensity=grid.intensity,
        country=grid.country,
        model=model,
    )
