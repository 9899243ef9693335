"""Tests of the owner, the socket server and its limits, the serving process, the web face."""
