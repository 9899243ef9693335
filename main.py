"""Entry point: hands the command line to workstation.cli.app."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["backtest"]:  # its --data files start loading now, while the rest is imported
        from workstation.research.inputs import read_early

        read_early(sys.argv[1:])
    from workstation.cli.app import main

    main()
