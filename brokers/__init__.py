"""Broker adapters behind one protocol (``brokers.base.Broker``): the built-in paper market
(``simmarket``, ``sim``, ``simbars``, ``replay``), Alpaca (``alpaca/``), Interactive Brokers
(``ib``) and ccxt exchanges (``ccxt_broker``). SDKs are imported only by the adapter that
uses them, when a profile chooses it (``factory``)."""
