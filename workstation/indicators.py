"""``workstation.indicators`` is ``workstation.core.indicators`` under its documented name (plugins import it).

The same module object, not a copy: ``workstation.indicators.X is workstation.core.indicators.X``.
"""

import sys

from workstation.core import indicators as _module

sys.modules[__name__] = _module
