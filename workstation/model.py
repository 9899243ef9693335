"""``workstation.model`` is ``workstation.core.model`` under its documented name (plugins import it).

The same module object, not a copy: ``workstation.model.X is workstation.core.model.X``.
"""

import sys

from workstation.core import model as _module

sys.modules[__name__] = _module
