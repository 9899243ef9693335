"""Interactive Brokers through ib_async: the adapter (``adapter``) and the pure mapping of our
symbols to IB contracts (``contracts``)."""
