"""The socket between an account's owner and its faces: the wire protocol, the server, the
remote engine, the owner's lock (``owner``), the ``serve`` process, socket names, the web face.

May import: everything below it and ``workstation.api``; never ``ui`` or ``cli``."""
