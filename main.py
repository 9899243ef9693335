"""Entry point: hands the command line to workstation.cli.app."""

from workstation.cli.app import main

if __name__ == "__main__":
    main()
