"""The energy model's arithmetic, its grid table and its errors, against hand-computed values."""

from __future__ import annotations

import pytest

from tidegate.errors import ConfigError
from tidegate.observability.energy import (
    GRID_INTENSITY,
    WORLD_INTENSITY,
    estimate_energy,
    grid_for,
)
from tidegate.spec.observability import EnergySpec

GIB = 2**30

EU27 = set(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def test_the_default_model_charges_cpu_seconds_and_memory_held_over_wall_time() -> None:
    energy = estimate_energy(cpu_seconds=100.0, wall_seconds=200.0, rss_bytes=2 * GIB)

    # 12 W x 100 cpu-s + 0.375 W/GiB x 2 GiB x 200 s = 1200 J + 150 J = 1350 J
    assert energy.kwh == pytest.approx(1350 / 3.6e6)
    assert energy.co2e_g == pytest.approx(1350 / 3.6e6 * 473.05)
    assert energy.carbon_intensity == WORLD_INTENSITY == 473.05
    assert energy.country == "world"
    assert energy.model == (
        "cpu 12 W/core x cpu-s + memory 0.375 W/GiB x wall-s, PUE 1; "
        "grid world 473 g/kWh (Ember 2024)"
    )


def test_a_country_and_watts_per_core_from_the_spec_case_insensitively() -> None:
    spec = EnergySpec(country="de", watts_per_core=10.0)

    energy = estimate_energy(cpu_seconds=360.0, wall_seconds=3600.0, rss_bytes=GIB, spec=spec)

    # 10 W x 360 cpu-s + 0.375 W x 3600 s = 3600 J + 1350 J = 4950 J = 1.375 Wh
    assert energy.kwh == pytest.approx(0.001375)
    assert energy.co2e_g == pytest.approx(0.001375 * 344.14)
    assert (energy.carbon_intensity, energy.country) == (344.14, "DE")
    assert energy.model == (
        "cpu 10 W/core x cpu-s + memory 0.375 W/GiB x wall-s, PUE 1; grid DE 344 g/kWh (Ember 2024)"
    )


def test_a_configured_intensity_overrides_the_table_even_for_a_country_not_in_it() -> None:
    spec = EnergySpec(country="is", carbon_intensity=28.0)

    energy = estimate_energy(cpu_seconds=3600.0, wall_seconds=3600.0, rss_bytes=0, spec=spec)

    assert energy.kwh == pytest.approx(0.012)  # 12 W for one hour
    assert energy.co2e_g == pytest.approx(0.012 * 28.0)
    assert (energy.country, energy.carbon_intensity) == ("IS", 28.0)
    assert energy.model.endswith("grid IS 28 g/kWh (configured)")
    world = grid_for(EnergySpec(carbon_intensity=300.0))
    assert (world.country, world.intensity, world.source) == ("world", 300.0, "configured")


def test_an_unknown_country_is_a_config_error_listing_the_known_codes() -> None:
    with pytest.raises(ConfigError) as caught:
        estimate_energy(
            cpu_seconds=1.0, wall_seconds=1.0, rss_bytes=0, spec=EnergySpec(country="XX")
        )

    error = caught.value
    assert error.location == "observability.energy.country"
    assert "'XX'" in error.message
    assert error.hint is not None
    assert "DE, DK" in error.hint
    assert "observability.energy.carbon_intensity" in error.hint


def test_the_grid_table_covers_the_eu_and_the_large_grids() -> None:
    wanted = EU27 | {"GB", "US", "CA", "AU", "IN", "CN", "JP", "BR", "ZA", "NO", "SE", "FR", "CH"}

    assert wanted <= set(GRID_INTENSITY)
    assert all(len(code) == 2 and code.isupper() for code in GRID_INTENSITY)
    assert all(10 < value < 1000 for value in GRID_INTENSITY.values())


def test_no_work_costs_nothing() -> None:
    energy = estimate_energy(cpu_seconds=0.0, wall_seconds=0.0, rss_bytes=0)

    assert (energy.kwh, energy.co2e_g) == (0.0, 0.0)
