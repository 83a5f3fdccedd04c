"""`EmulatorProcess`: run the emulator as a child process for tests, demos and benchmarks."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from types import TracebackType

from fake_x.client import EmulatorAdmin

DEFAULT_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0


class EmulatorProcess:
    """Context manager: `with EmulatorProcess() as emu: emu.url, emu.admin`.

    Starts `python -m fake_x --port 0 [extra args]`, reads the bound URL from the child's
    first stdout line, waits until `/_emulator/health` answers, and on exit terminates the child
    and reaps it (then kills it if it does not stop), so no zombie is left behind.
    """

    def __init__(self, *args: str, start_timeout: float = DEFAULT_START_TIMEOUT_S) -> None:
        self.args = list(args)
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._admin: EmulatorAdmin | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the emulator is not running")
        return self._process.pid

    @property
    def admin(self) -> EmulatorAdmin:
        if self._admin is None:
            raise RuntimeError("the emulator is not running")
        return self._admin

    def start(self) -> EmulatorProcess:
        command = [sys.executable, "-m", "fake_x", "--port", "0", *self.args]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.start_timeout
        try:
            self._url = self._read_url(self._process, deadline)
            self._admin = EmulatorAdmin(self._url)
            while not self._admin.health():
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not become healthy")
                time.sleep(0.01)  # polling interval, not synchronisation: health decides
        except BaseException:
            self.stop()
            raise
        return self

    def _read_url(self, process: subprocess.Popen[str], deadline: float) -> str:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=max(deadline - time.monotonic(), 0)):
                raise RuntimeError("the emulator did not print its URL in time")
        line = process.stdout.readline().strip()
        if not line.startswith("http"):
            raise RuntimeError(f"the emulator exited early (status {process.poll()})")
        return line

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after a grace period) and reap it."""
        process, self._process = self._process, None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
