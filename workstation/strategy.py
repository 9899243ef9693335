"""``workstation.strategy`` is ``workstation.strategies.api`` under its documented name (plugins import it).

The same module object, not a copy: ``workstation.strategy.X is workstation.strategies.api.X``.
"""

import sys

from workstation.strategies import api as _module

sys.modules[__name__] = _module
