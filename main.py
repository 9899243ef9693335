"""Entry point: hands the command line to workstation.cli."""

from workstation.cli import main

if __name__ == "__main__":
    main()
