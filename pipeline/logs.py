"""Send a Snakemake script's output, Python's and native libraries' alike, to its log file."""
from __future__ import annotations

import contextlib
import os
import sys
import traceback


@contextlib.contextmanager
def log_to(path):
    """Redirect file descriptors 1 and 2 (and sys.stdout / sys.stderr) to ``path``.

    Works at the descriptor level, so output of XLA, MuJoCo and warnings lands too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    yield log
                except BaseException:
                    traceback.print_exc()  # into the log, where the rule's message points
                    raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
