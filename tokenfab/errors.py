"""Errors that mean "the user asked for something that is not allowed".

The CLI turns a :class:`UsageError` into one line on stderr and exit code 2. Anything else
is a bug in tokenfab and keeps its traceback.
"""


import re

_OPTION = re.compile("\x00(.*?)\x01(.*?)\x02")


def option(api: str, cli: str) -> str:
    """An option named in an error message: ``api`` (the keyword argument, e.g.
    ``allow_spill=True``) where the API raises it, ``cli`` (the flag, ``--allow-spill``)
    where the CLI prints it."""
    return f"\x00{api}\x01{cli}\x02"


def allow_spill() -> str:
    return option("allow_spill=True", "--allow-spill")


class UsageError(ValueError):
    """Bad input at a boundary: a parameter, a design, a model, a target or a file.
    Options in the message (``option``) read as keyword arguments; ``for_cli()`` gives
    them as flags."""

    def __str__(self):
        return _OPTION.sub(r"\1", super().__str__())

    def for_cli(self) -> str:
        return _OPTION.sub(r"\2", super().__str__())

    def __format__(self, spec):
        # f"...: {exc}" wraps the message with its options unrendered
        return format(super().__str__(), spec)


class ToolError(RuntimeError):
    """An external tool (Yosys, nextpnr, Verilator) failed on input we produced."""
