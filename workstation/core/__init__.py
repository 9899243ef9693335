"""The domain and its records, depending on nothing else in the workstation: model (orders,
fills, positions, events), symbols, clock, bus, memo, journal, settings (config, limits),
quotes and bars, sectors, indicators, the alert rule grammar, private files.

May import: nothing in ``workstation`` outside ``core``."""
