"""`manage.py sandbox_serve …` with TCP_NODELAY on every accepted socket (bench only).

sandbox_serve answers through Django's WSGIRequestHandler, which writes the status line and
the headers in separate unbuffered sends; on a keep-alive connection (the engine's pooled
session) Nagle's algorithm then holds the second write until the client's delayed ACK, about
40 ms per request. This wrapper sets the handler's `disable_nagle_algorithm` (socketserver's
own switch) and runs the unchanged command, so the benchmark can show both numbers without
touching sandbox/.

    python -m bench.sandbox_nodelay sandbox_serve 127.0.0.1:8001 --settings=sandbox.settings
"""

import sys

from django.core.management import execute_from_command_line
from django.core.servers import basehttp


def main() -> None:
    basehttp.WSGIRequestHandler.disable_nagle_algorithm = True
    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
