"""Modal screens of the workstation: help, order review, confirmations, the backtest runner."""
