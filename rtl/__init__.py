"""Verilog export: design + params -> .v + manifest.json."""
