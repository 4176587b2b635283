"""Heavy processes (training, evaluation, merging) stop when the process that launched them dies.

A step worker killed with its run leaves its Pipes child behind: an orphaned trainer kept training and published an
adapter while the run showed FAILURE, and a retry then trained the same fingerprint beside it. `exit_with_parent`
watches the parent from a daemon thread and ends this process when it is gone (its parent pid changes: it was
re-parented to init). Completed checkpoints stay; a half-written artefact was never in place (atomic writes).
"""

from __future__ import annotations

import os
import sys
import threading
import time

POLL_SECONDS = 1.0
EXIT_CODE = 3


def exit_with_parent(poll_seconds: float = POLL_SECONDS) -> threading.Thread:
    """Start watching; returns the watching (daemon) thread."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                print(
                    f"the process that launched this one (pid {parent}) is gone: stopping (pid {os.getpid()})",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(EXIT_CODE)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
