"""Write a design's Verilog and a manifest describing it."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from tokenfab.errors import UsageError


def ports(component) -> list[dict]:
    """Verilog ports of a component, as Amaranth names them (``i_stream__valid``...)."""
    out = [{"name": "clk", "direction": "in", "width": 1},
           {"name": "rst", "direction": "in", "width": 1}]
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        direction = "in" if member.flow == wiring.In else "out"
        out.append({"name": name, "direction": direction,
                    "width": len(Value.cast(value))})
    return out


def verilog_text(component, top_name: str) -> str:
    return verilog.convert(component, name=top_name, emit_src=False)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write(entry, params, out_dir) -> Path:
    """Generate ``<out_dir>/<top>.v`` and ``<out_dir>/manifest.json``; return the .v path.

    Both files are written to temporaries and renamed, so a failure leaves nothing behind.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output directory must be a directory, not the file {str(out_dir)!r}")
    component = entry.top(params)
    text = verilog_text(component, entry.top_name)
    manifest = {
        "design": entry.name,
        "params": params.to_dict(),
        "top": entry.top_name,
        "ports": ports(component),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "generator": "amaranth " + __import__("amaranth").__version__,
    }
    v_path = out_dir / f"{entry.top_name}.v"
    _atomic_write(v_path, text)
    _atomic_write(out_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return v_path
