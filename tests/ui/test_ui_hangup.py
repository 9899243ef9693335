"""The hang-up watch: a terminal that goes away ends the workstation (see ``ui/hangup.py``)."""

import os
import pty
import threading

from workstation.ui.hangup import HangupWatch


def test_a_hung_up_terminal_is_noticed_and_a_stopped_watch_stays_quiet() -> None:
    master, slave = pty.openpty()
    hung = threading.Event()
    watch = HangupWatch(slave, on_hangup=hung.set, interval=0.05).start()
    assert not hung.wait(0.3)  # a live terminal: nothing happens
    os.close(master)  # the other end goes away, as when an SSH link drops
    assert hung.wait(5)
    os.close(slave)

    master, slave = pty.openpty()
    quiet = threading.Event()
    watch = HangupWatch(slave, on_hangup=quiet.set, interval=0.05).start()
    watch.stop()
    watch.join(2)
    os.close(master)
    assert not quiet.wait(0.3)
    os.close(slave)
