"""Entry point: hands the command line to workstation.cli.app."""

import sys

if __name__ == "__main__":
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
            # full collections over every object it still holds (0.1-0.2 s after a long
            # run); frozen, they are only freed as their references drop.
            import gc

            gc.freeze()
