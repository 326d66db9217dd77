"""Total cost of ownership, carbon and the per-token metrics.

TCO over a service life = capital (hardware, data-centre infrastructure, NRE) +
electricity (IT power x PUE x hours x price) + maintenance (a yearly fraction of the
capital hardware and infrastructure) + software licences + re-spins. Carbon: facility
energy x grid intensity, plus embodied carbon per unit (given, or for a die from ACT's
per-area model).
"""
from __future__ import annotations

import dataclasses

from tokenfab.cost_models import tech
from tokenfab.errors import UsageError
from tokenfab.params import checked, integer, number
from tokenfab.results import Frameable

_HOUR = 3600.0


def platform(name: str) -> dict:
    """SI values of a reference platform in ``platforms.json``."""
    data = tech.data("platforms")
    names = [k for k in data if not k.startswith("_")]
    if name not in names:
        raise UsageError(f"platform must be one of {', '.join(names)}, not {name!r}")
    return {k: (v if k == "title" else tech.value(name, k, file="platforms"))
            for k, v in data[name].items()}


@dataclasses.dataclass
class TCO(Frameable):
    hardware_usd: float
    infrastructure_usd: float
    nre_usd: float
    electricity_usd: float
    maintenance_usd: float
    software_usd: float
    respin_usd: float
    years: float
    facility_power_w: float
    operational_co2_kg: float
    embodied_co2_kg: float

    @property
    def capex_usd(self) -> float:
        return self.hardware_usd + self.infrastructure_usd + self.nre_usd

    @property
    def total_usd(self) -> float:
        return (self.capex_usd + self.electricity_usd + self.maintenance_usd
                + self.software_usd + self.respin_usd)

    @property
    def co2_kg(self) -> float:
        return self.operational_co2_kg + self.embodied_co2_kg

    def usd_per_mtoken(self, tokens_per_s: float, utilization: float = 1.0) -> float:
        tokens = tokens_per_s * utilization * self.years * 365.25 * 24 * _HOUR
        return self.total_usd / tokens * 1e6

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "capex_usd": self.capex_usd,
                "total_usd": self.total_usd, "co2_kg": self.co2_kg}


@checked(hardware_usd=number(0), it_power_w=number(0), years=number(0, lo_open=True),
         network_usd=number(0), nre_usd=number(0), respin_usd=number(0),
         software_usd_per_year=number(0), embodied_co2_kg=number(0), pue=number(1),
         electricity_usd_per_kwh=number(0), building_usd_per_w=number(0),
         maintenance_per_year=number(0), grid_kg_per_kwh=number(0))
def tco(hardware_usd: float, it_power_w: float, *, years: float | None = None,
        network_usd: float = 0.0, nre_usd: float = 0.0, respin_usd: float = 0.0,
        software_usd_per_year: float = 0.0, embodied_co2_kg: float = 0.0,
        pue: float | None = None, electricity_usd_per_kwh: float | None = None,
        building_usd_per_w: float | None = None, maintenance_per_year: float | None = None,
        grid_kg_per_kwh: float | None = None) -> TCO:
    """TCO of a deployment; facility defaults from ``economics.json``."""
    years = years if years is not None else tech.econ("facility", "service_life") / (365.25 * 24 * _HOUR)
    pue = pue if pue is not None else tech.econ("facility", "pue")
    price = (electricity_usd_per_kwh / 3.6e6 if electricity_usd_per_kwh is not None
             else tech.econ("facility", "electricity_price"))                       # USD per J
    building = building_usd_per_w if building_usd_per_w is not None else tech.econ("facility", "building_per_w")
    maint = maintenance_per_year if maintenance_per_year is not None else tech.econ("facility", "maintenance_per_year")
    grid = (grid_kg_per_kwh / 3.6e6 if grid_kg_per_kwh is not None
            else tech.econ("facility", "grid_intensity"))                            # kg per J
    facility_w = it_power_w * pue
    infra = building * facility_w + network_usd
    energy_j = facility_w * years * 365.25 * 24 * _HOUR
    return TCO(hardware_usd=hardware_usd, infrastructure_usd=infra, nre_usd=nre_usd,
               electricity_usd=energy_j * price,
               maintenance_usd=maint * (hardware_usd + infra) * years,
               software_usd=software_usd_per_year * years, respin_usd=respin_usd,
               years=years, facility_power_w=facility_w,
               operational_co2_kg=energy_j * grid, embodied_co2_kg=embodied_co2_kg)


@checked(gpus=integer(1))
def gpu_cluster_tco(gpus: int = 2000, name: str = "h100-sxm", **kw) -> TCO:
    """A cluster of HGX-style nodes of ``name`` GPUs with their networking and software
    licences (the H100 column of the HNLPU paper's Table 3 by default)."""
    p = platform(name)
    per_node = int(p["node_gpus"])
    if gpus <= 0 or gpus % per_node:
        raise UsageError(f"GPU count must be a positive multiple of {per_node}, not {gpus!r}")
    nodes = gpus // per_node
    return tco(nodes * p["node_price"], nodes * p["node_power"],
               network_usd=nodes * p["node_network_price"],
               software_usd_per_year=gpus * p["software_per_gpu_year"],
               embodied_co2_kg=gpus * p["embodied_carbon"], **kw)


@checked(area_mm2=number(0))
def embodied_co2_kg(area_mm2: float, node) -> float:
    """ACT's embodied carbon of one packaged die: (fab grid x EPA + GPA + MPA) x area /
    fab yield + packaging."""
    n = tech.check_node(node)
    area = area_mm2 * 1e-6
    per_m2 = (tech.econ("carbon", "fab_grid_intensity") * tech.node_value(n, "carbon_epa")
              + tech.node_value(n, "carbon_gpa") + tech.node_value(n, "carbon_mpa"))
    return per_m2 * area / tech.econ("carbon", "fab_yield") + tech.econ("carbon", "packaging_per_ic")


@checked(tokens_per_s=number(0), power_w=number(0), area_mm2=number(0))
def metrics(tokens_per_s: float, power_w: float, area_mm2: float) -> dict:
    return {"tokens_per_s": tokens_per_s,
            "tokens_per_j": tokens_per_s / power_w if power_w else None,
            "tokens_per_s_per_mm2": tokens_per_s / area_mm2 if area_mm2 else None}
