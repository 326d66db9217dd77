"""Timing of the lut-tensor-core unit and the systems built from it."""
from tokenfab.arch_models.common import tile_systems
from tokenfab.arch_models.common.simulate import simulate as simulate_tiles
from tokenfab.arch_models.common.system import check_system
from tokenfab.arch_models.common.tile_timing import sequence_cycles

SYSTEMS = ("asic", "a100")


def unit_cycles(p, n_tiles: int) -> int:
    """Cycles for ``n_tiles`` beats back to back (see ``TileSequencer``)."""
    return sequence_cycles(n_tiles, p.cycles_per_tile)


def system(p, name: str = "asic", node: int = 28):
    check_system(name, dict.fromkeys(SYSTEMS))
    if name == "asic":
        return tile_systems.asic(p, node=node, attention_on="vector")
    return tile_systems.a100(p, fp16_tensor_cores=False)


def simulate(p, request, system_name: str = "asic", *, node: int = 28, progress=None,
             trace: bool = False):
    return simulate_tiles("lut-tensor-core", p, system(p, system_name, node), request,
                          progress=progress, trace=trace)
