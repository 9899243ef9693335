"""``workstation.sizing`` is ``workstation.strategies.sizing`` under its documented name (plugins import it).

The same module object, not a copy: ``workstation.sizing.X is workstation.strategies.sizing.X``.
"""

import sys

from workstation.strategies import sizing as _module

sys.modules[__name__] = _module
