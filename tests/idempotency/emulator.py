"""The Firestore emulator of the Google Cloud CLI, started once per test session.

``gcloud emulators firestore start`` runs a Java server that outlives the gcloud
process unless its whole process group is stopped. Missing gcloud, Java or the
emulator component makes the tests skip with the reason, and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from cec_sim.function_server import free_port

START_TIMEOUT_SECONDS = 60.0


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the Firestore emulator is required under CI=true: {reason}")
    pytest.skip(reason)


class FirestoreEmulator:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FirestoreEmulator:
        gcloud = shutil.which("gcloud")
        if gcloud is None:
            unavailable("gcloud (Google Cloud CLI) is not installed")
        if shutil.which("java") is None:
            unavailable("java is not installed (the Firestore emulator needs Java 17+)")
        assert gcloud is not None
        command = [gcloud, "emulators", "firestore", "start", f"--host-port={self.host}", "--quiet"]
        with self.log_path.open("wb") as log:
            # A session of its own, so that stopping its group also stops the java child.
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                unavailable(f"the Firestore emulator did not start (is the component installed?):\n{text}")
            try:
                if requests.get(f"http://{self.host}/", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"the Firestore emulator did not answer within {START_TIMEOUT_SECONDS:g} s")
        raise AssertionError  # unreachable: pytest.fail raises

    def stop(self) -> None:
        process = self.process
        if process is None or (process.poll() is not None and not _group_alive(process.pid)):
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + wait
            while time.monotonic() < end and _group_alive(process.pid):
                process.poll()
                time.sleep(0.1)
            if not _group_alive(process.pid):
                break
        process.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
