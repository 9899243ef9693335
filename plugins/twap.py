"""TWAP: work a parent order in equal child slices over a time window."""

from __future__ import annotations

from workstation.strategies.execution import ScheduledExecution


class Twap(ScheduledExecution):
    """Time-weighted: the parent quantity in equal slices across the window, each child a
    market order (or a limit order at ``limit``); canceled cleanly when stopped."""

    name = "twap"
