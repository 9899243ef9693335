"""Broker adapters behind one protocol (``brokers.base.Broker``), one package per venue: the
built-in paper market (``paper/``), Alpaca (``alpaca/``), Interactive Brokers (``ib/``) and
ccxt exchanges (``exchanges/``). SDKs are imported only by the adapter that uses them, when
a profile chooses it (``factory``). Adapters import ``workstation.core`` only."""
