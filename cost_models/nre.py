"""Non-recurring engineering: mask sets by layer, design labour, IP, re-spins, amortization.

A mask set is priced in DUV-equivalent layer units: ``duv + w * euv`` with the EUV weight
``w`` (6 in the HNLPU paper). A subset of layers (for example the metal layers that carry
hardwired weights) costs its share of the units.
"""
from __future__ import annotations

import dataclasses

from tokenfab.cost_models import tech
from tokenfab.errors import UsageError
from tokenfab.params import checked, instance, integer, number
from tokenfab.results import Frameable


@dataclasses.dataclass(frozen=True)
class MaskSet:
    node: int
    price_usd: float
    euv_layers: int
    duv_layers: int
    euv_weight: float

    @property
    def units(self) -> float:
        return self.duv_layers + self.euv_weight * self.euv_layers

    @property
    def per_unit_usd(self) -> float:
        return self.price_usd / self.units

    def layers_cost(self, euv: int = 0, duv: int = 0) -> float:
        """Price of ``euv`` EUV and ``duv`` DUV layers of this set."""
        if not (0 <= euv <= self.euv_layers and 0 <= duv <= self.duv_layers):
            raise UsageError(f"a {self.node} nm set has {self.euv_layers} EUV and "
                             f"{self.duv_layers} DUV layers, not {euv} and {duv}")
        return self.per_unit_usd * (duv + self.euv_weight * euv)


@checked(price_usd=number(0), euv_weight=number(0, lo_open=True))
def mask_set(node, price_usd: float | None = None, euv_weight: float | None = None) -> MaskSet:
    n = tech.check_node(node)
    return MaskSet(
        node=n,
        price_usd=price_usd if price_usd is not None else tech.node_value(n, "mask_set_price"),
        euv_layers=int(tech.node_value(n, "mask_layers_euv")),
        duv_layers=int(tech.node_value(n, "mask_layers_duv")),
        euv_weight=euv_weight if euv_weight is not None else tech.econ("design", "euv_layer_weight"))


@dataclasses.dataclass
class NRE(Frameable):
    """NRE by component in USD; ``+`` adds component-wise (two chips, two tape-outs)."""
    architecture: float = 0.0
    verification: float = 0.0
    physical: float = 0.0
    ip: float = 0.0
    package: float = 0.0
    masks: float = 0.0

    @property
    def total(self) -> float:
        return sum(dataclasses.asdict(self).values())

    def __add__(self, other: "NRE") -> "NRE":
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return NRE(**{k: a[k] + b[k] for k in a})

    def to_dict(self) -> dict:
        """Each component and the total, in USD, the unit in every key (``masks_usd``)."""
        return {f"{k}_usd": v for k, v in {**dataclasses.asdict(self),
                                            "total": self.total}.items()}


@checked(gates=number(0), architecture_engineer_years=number(0),
         verification_engineer_years=number(0), mask_price_usd=number(0))
def design_nre(node, gates: float, architecture_engineer_years: float | None = None,
               verification_engineer_years: float | None = None,
               mask_price_usd: float | None = None) -> NRE:
    """First tape-out of one chip of ``gates`` NAND2-equivalent gates at ``node``.

    Front-end labour is engineer-years x (salary + CAD licences); physical design is the
    ttm-cas back-end labour per gate; licensed IP and the package design per tape-out;
    the full mask set.
    """
    n = tech.check_node(node)
    fe_year = tech.econ("design", "frontend_engineer_year") + 52 * tech.econ("design", "frontend_cad_week")
    arch = (architecture_engineer_years if architecture_engineer_years is not None
            else tech.econ("design", "architecture_engineer_years"))
    verif = (verification_engineer_years if verification_engineer_years is not None
             else tech.econ("design", "verification_engineer_years"))
    return NRE(architecture=arch * fe_year, verification=verif * fe_year,
               physical=gates * tech.econ("backend_labor_per_gate", str(n)),
               ip=tech.econ("ip_per_tapeout", str(n)),
               package=tech.econ("packaging", "package_design_nre"),
               masks=mask_set(n, mask_price_usd).price_usd)


@checked(first=instance(NRE), masks_usd=number(0), engineering_fraction=number(0, 1))
def respin(first: NRE, masks_usd: float | None = None,
           engineering_fraction: float | None = None) -> NRE:
    """A re-spin: new masks (all of them unless ``masks_usd`` says which share) and a
    fraction of the labour; IP and package design are not paid again."""
    f = (engineering_fraction if engineering_fraction is not None
         else tech.econ("design", "respin_engineering_fraction"))
    return NRE(architecture=f * first.architecture, verification=f * first.verification,
               physical=f * first.physical,
               masks=first.masks if masks_usd is None else masks_usd)


@checked(nre_usd=number(0), unit_cost_usd=number(0), volume=integer(1))
def amortized_unit_cost(nre_usd: float, unit_cost_usd: float, volume: float) -> float:
    """Cost of one unit when ``nre_usd`` is spread over ``volume`` units."""
    return unit_cost_usd + nre_usd / volume
