"""``workstation.execution`` is ``workstation.strategies.execution`` under its documented name (plugins import it).

The same module object, not a copy: ``workstation.execution.X is workstation.strategies.execution.X``.
"""

import sys

from workstation.strategies import execution as _module

sys.modules[__name__] = _module
