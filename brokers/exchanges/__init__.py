"""Crypto exchanges (and fiat pairs where one lists them) through ccxt: the adapter
(``adapter``) and its settings (``config``). Named for what it reaches, not ``ccxt``, which
would read as the SDK itself."""
