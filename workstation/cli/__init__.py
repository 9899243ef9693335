"""The command line (Typer): ``app`` (the commands and ``main``), ``common`` (what every
command shares), ``account`` (how a command reaches an account) and one module per command
group. The top of the house: it may import every wing; nothing imports it."""
