"""Timing of the mac-array unit and the systems built from it."""
from arch_models.common import tile_systems
from arch_models.common.tile_timing import sequence_cycles

SYSTEMS = ("asic", "a100")


def unit_cycles(p, n_tiles: int) -> int:
    """Cycles for ``n_tiles`` beats back to back (see ``TileSequencer``)."""
    return sequence_cycles(n_tiles, p.cycles_per_tile)


def system(p, name: str, cost, node: int = 28):
    if name == "asic":
        return tile_systems.asic(p, cost, node=node, attention_on="matrix")
    return tile_systems.a100(p, cost, fp16_tensor_cores=True)
