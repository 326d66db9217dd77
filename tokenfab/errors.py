"""Errors that mean "the user asked for something that is not allowed".

The CLI turns a :class:`UsageError` into one line on stderr and exit code 2. Anything else
is a bug in tokenfab and keeps its traceback.
"""


class UsageError(ValueError):
    """Bad input at a boundary: a parameter, a design, a model, a target or a file."""


class ToolError(RuntimeError):
    """An external tool (Yosys, nextpnr, Verilator) failed on input we produced."""
