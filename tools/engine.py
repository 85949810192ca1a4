"""papermill's command line with kernels over local IPC sockets, as the runner starts it.

    python -m tools.engine INPUT OUTPUT [papermill's options]    (what `python -m tools.run` calls per chapter)

papermill's default kernels listen on TCP ports of 127.0.0.1 in plain text, and ipykernel says so in a warning each
time. On Linux and macOS this engine starts them on IPC sockets (files in Jupyter's runtime folder, removed when the
kernel stops) instead: no port is opened and nothing is printed. Windows has no IPC transport and keeps TCP."""
import os

from papermill.cli import papermill
from papermill.engines import NBClientEngine, papermill_engines
from traitlets.config import Config

NAME = "local"
TRANSPORT = "ipc" if os.name == "posix" else "tcp"


class LocalEngine(NBClientEngine):
    """nbclient's engine with the kernel manager set to the IPC transport where the OS has it."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        config = Config({"KernelManager": {"transport": TRANSPORT}})
        return super().execute_managed_notebook(nb_man, kernel_name, config=config, **kwargs)


papermill_engines.register(NAME, LocalEngine)

if __name__ == "__main__":
    papermill()
