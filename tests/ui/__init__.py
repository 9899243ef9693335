"""Tests of the Textual workstation: Pilot flows, snapshots, the real terminal (tmux)."""
