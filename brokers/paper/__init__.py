"""The built-in paper market, fully offline: the deterministic price process and its calendars
(``market``), the matching engine on quotes (``broker``: SimBroker) and on whole bars for
backtests (``bars``), and bars from CSV/Parquet files as a feed (``replay``)."""
