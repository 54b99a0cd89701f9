"""Children end with their parent: a worker asks the kernel to kill it when the process that started it dies.

Without this, a show killed with -9 (or by the OOM killer) left its sampler (~0.5 GB) and the resource
tracker running for good: the sampler waits on a queue whose write end it holds itself, so it never sees
EOF. PR_SET_PDEATHSIG fires when the parent thread exits, so it is set by the process itself, first thing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int) -> None:
    """Be killed when our parent dies; exit now if `parent` (the show's pid) is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        os.kill(parent, 0)  # it may have died before the prctl: then nobody would tell us
    except ProcessLookupError:
        os._exit(0)
    except PermissionError:
        pass
