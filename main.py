"""Entry point: hands the command line to workstation.cli.app."""

import os
import sys

if __name__ == "__main__":
    # numpy's OpenBLAS starts a thread of its own at import, which busy-waits after the
    # small BLAS calls numpy makes and competes with the engine for the cores (a
    # million-bar backtest took 1-1.5 s longer with it); nothing here needs threaded BLAS.
    # A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    backtest = sys.argv[1:2] == ["backtest"]
    if backtest:  # its --data files start loading now, while the rest is imported
        from workstation.research.inputs import read_early

        read_early(sys.argv[1:])
    from workstation.cli.app import main

    try:
        main()
    finally:
        if backtest:
            # The run has written and closed everything. Exiting, the interpreter would run
            # full collections over every object it still holds (0.7-1.4 s after a million-bar
            # run); frozen, they are only freed as their references drop.
            import gc

            gc.freeze()
