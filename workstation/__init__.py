"""The trading workstation: the engine and its faces.

What lives where (``docs/ARCHITECTURE.md`` draws it): the domain and the journal
(``model``, ``symbols``, ``clock``, ``bus``, ``journal``, ``config``...), trading
(``oms``, ``portfolio``, ``session``, ``status``), risk and alerts, strategies, research
(backtests, analytics), the engine API (``api``), the socket between an owning engine and
its faces (``protocol``, ``server``, ``remote``, ``owner``, ``serving``), the command line
(``cli`` and ``cli_*``) and the Textual workstation (``ui``, the only part that imports
Textual). Lower parts never import higher ones; ``tests/test_import_graph.py`` checks that
no module imports another in a circle.
"""
