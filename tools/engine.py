"""papermill's command line with kernels over local IPC sockets, as the runner starts it.

    python -m tools.engine INPUT OUTPUT --engine local [papermill's options]    (what `python -m tools.run` calls)

papermill's default kernels listen on TCP ports of 127.0.0.1 in plain text, and ipykernel says so in a warning each
time. On Linux and macOS this engine starts them on IPC sockets (files in Jupyter's runtime folder, removed when the
kernel stops) instead: no port is opened and nothing is printed. Windows has no IPC transport and keeps TCP."""
import os

NAME = "local"
TRANSPORT = "ipc" if os.name == "posix" else "tcp"


def main():
    """Register the engine NAME with papermill (imported here: the runner only needs NAME) and run its CLI."""
    from papermill.cli import papermill
    from papermill.engines import NBClientEngine, papermill_engines
    from traitlets.config import Config

    class LocalEngine(NBClientEngine):
        """nbclient's engine with the kernel manager set to the IPC transport where the OS has it."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            config = Config({"KernelManager": {"transport": TRANSPORT}})
            return super().execute_managed_notebook(nb_man, kernel_name, config=config, **kwargs)

    papermill_engines.register(NAME, LocalEngine)
    papermill()


if __name__ == "__main__":
    main()
