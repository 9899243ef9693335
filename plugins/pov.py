"""POV: work a parent order as a share of the market's volume, with a limit and a deadline."""

from __future__ import annotations

from workstation.strategies.execution import ParticipationExecution


class Pov(ParticipationExecution):
    """Percentage of volume: trades ``rate`` of the others' volume printed since it started
    (own / (market - own); quotes' volume live, bar volume in a backtest; on a venue whose tape
    prints our own fills, ``volume_has_own=true`` takes them out), in children of ``min_child``..``max_child``, never
    through ``limit``; at the deadline (``duration`` s) it stops and reports what is left, or
    with ``finish=true`` sends the remainder at once. Canceled cleanly when stopped."""

    name = "pov"
