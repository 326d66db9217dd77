"""Child processes that never outlive the run that started them."""
from __future__ import annotations


def die_with_parent() -> None:
    """In a child (before exec, or as a pool initializer): ask Linux to SIGKILL it when
    its parent dies, so a killed ``tokenfab`` leaves no tool or worker running."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PDEATHSIG
    except (OSError, AttributeError):
        pass                                     # not Linux: callers also clean up
