"""Run the stripe-secrets-mock server from Python tests.

``MockServer`` starts the binary on a free port, hands out its URL, and
drives its ``/_mock/`` control API (clock, reset, faults, journal, state).
It uses the standard library only.

    from stripe_secrets_mock import MockServer

    with MockServer(seed=1) as mock:
        ...  # point your Stripe client at mock.url
        mock.clock.advance(60)

The binary is found through ``STRIPE_SECRETS_MOCK_BIN``, then ``PATH``
(``cargo install --path .`` in the project puts it there).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Dict, List, Mapping, Optional, Union

__all__ = ["MockServer", "Clock", "MockError", "find_binary", "BINARY_ENV"]

#: The environment variable naming the binary to run.
BINARY_ENV = "STRIPE_SECRETS_MOCK_BIN"

#: The binary's name on ``PATH``.
BINARY_NAME = "stripe-secrets-mock"

#: How long the binary gets to print its address, in seconds.
START_TIMEOUT = 30.0


class MockError(RuntimeError):
    """The mock could not start, died, or refused a control request."""


def bundled_binary() -> Optional[str]:
    """The binary a platform wheel ships inside this package
    (``stripe_secrets_mock/bin/``), if this install has one."""
    candidate = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", BINARY_NAME)
    return candidate if os.access(candidate, os.X_OK) else None


def find_binary() -> str:
    """The binary to run: the one bundled in a platform wheel, else
    ``$STRIPE_SECRETS_MOCK_BIN``, else ``stripe-secrets-mock`` on ``PATH``."""
    bundled = bundled_binary()
    if bundled:
        return bundled
    configured = os.environ.get(BINARY_ENV)
    if configured:
        if not os.access(configured, os.X_OK):
            raise MockError(f"{BINARY_ENV}={configured} is not an executable file")
        return configured
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    raise MockError(
        f"cannot find the {BINARY_NAME} binary: install the platform wheel (which bundles it), "
        f"set {BINARY_ENV} to its path, or put {BINARY_NAME} on PATH (from the project's "
        f"folder: cargo install --locked --path .)"
    )


def _flags(options: Mapping[str, Any]) -> List[str]:
    """CLI flags from keyword options: ``seed=1`` -> ``--seed 1``,
    ``system_clock=True`` -> ``--system-clock``, a list repeats the flag."""
    out: List[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                out += [flag, str(item)]
        else:
            out += [flag, str(value)]
    return out


class Clock:
    """The mock's clock (Unix seconds). Moving it forward expires secrets;
    moving it back never revives one."""

    def __init__(self, server: "MockServer") -> None:
        self._server = server

    def now(self) -> int:
        """The current instant."""
        return int(self._server._call("GET", "/_mock/clock")["now"])

    def set(self, unix_seconds: int) -> int:
        """Moves the clock to ``unix_seconds``; returns it."""
        return int(self._server._call("POST", "/_mock/clock", {"now": unix_seconds})["now"])

    def advance(self, seconds: int) -> int:
        """Moves the clock by ``seconds`` (back if negative); returns the new
        instant."""
        return int(self._server._call("POST", "/_mock/clock", {"advance": seconds})["now"])


class MockServer:
    """A running ``stripe-secrets-mock``: a context manager, or call
    ``start()`` and ``stop()``.

    Keyword options are the binary's CLI options: ``seed=1``, ``now=...``,
    ``fixtures=["fixtures/a.json"]``, ``api_key=[...]``,
    ``max_secrets_per_scope=3``, ``system_clock=True``, ``lenient=True``,
    ``control_token="…"`` (then sent on every control call).
    The mock's stderr goes to a temporary file (never a pipe that could fill
    up), and is shown if the mock dies.
    """

    def __init__(self, binary: Optional[str] = None, **options: Any) -> None:
        self.binary = binary
        self.options = options
        self.url = ""
        self.port = 0
        self.clock = Clock(self)
        self._process: Optional["subprocess.Popen[bytes]"] = None
        self._stderr: Optional[IO[bytes]] = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> "MockServer":
        """Spawns the binary on a free port and waits for its address."""
        if self._process is not None:
            return self
        binary = self.binary or find_binary()
        self._stderr = tempfile.TemporaryFile()
        args = [binary, "--port", "0", *_flags(self.options)]
        try:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except OSError as e:
            raise MockError(f"cannot run {binary}: {e}") from e
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode("utf-8", "replace").strip()
        if not line.startswith("listening on "):
            self._process.wait(timeout=START_TIMEOUT)
            raise MockError(
                f"{binary} did not start (exit code {self._process.returncode}):\n"
                + self.stderr()
            )
        self.url = line[len("listening on ") :]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        """Stops the mock gracefully (SIGTERM), or kills it after 5 s."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> "MockServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stderr(self) -> str:
        """What the mock has written to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    # -- control API ----------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        form: Optional[Mapping[str, Any]] = None,
        body: Optional[Any] = None,
    ) -> Dict[str, Any]:
        if self._process is None:
            raise MockError("the mock is not running: use it as a context manager or call start()")
        params = {k: _form_value(v) for k, v in (form or {}).items() if v is not None}
        data = None
        headers = {}
        token = self.options.get("control_token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.url + path
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "GET" and params:
            url += "?" + urllib.parse.urlencode(params)
        elif params or method == "POST":
            data = urllib.parse.urlencode(params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise MockError(f"{method} {path}: {e.code}: {detail}") from None
        except urllib.error.URLError as e:
            dead = self._process.poll() is not None
            why = f"the mock exited:\n{self.stderr()}" if dead else str(e.reason)
            raise MockError(f"{method} {path}: {why}") from None

    def health(self) -> Dict[str, Any]:
        """``GET /_mock/health``."""
        return self._call("GET", "/_mock/health")

    def reset(self, app: Optional[str] = None, account: Optional[str] = None) -> Dict[str, Any]:
        """Everything back to the startup state, or one app's (one account's)
        partitions only."""
        return self._call("POST", "/_mock/reset", {"app": app, "account": account})

    def inject_fault(
        self,
        status: Optional[int] = None,
        *,
        close: bool = False,
        delay_ms: Optional[int] = None,
        count: Optional[int] = None,
        operation: Optional[str] = None,
        app: Optional[str] = None,
        after: bool = False,
        should_retry: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """Makes the next matching requests fail (see docs/control.md, Faults)."""
        return self._call(
            "POST",
            "/_mock/faults",
            {
                "status": status,
                "close": close or None,
                "delay_ms": delay_ms,
                "count": count,
                "operation": operation,
                "app": app,
                "after": after or None,
                "should_retry": should_retry,
            },
        )

    def faults(self) -> List[Dict[str, Any]]:
        """Pending faults, in matching order."""
        return self._call("GET", "/_mock/faults")["data"]

    def requests(
        self, operation: Optional[str] = None, app: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """The journal, oldest first; optionally one operation's, one app's."""
        return self._call("GET", "/_mock/requests", {"operation": operation, "app": app})["data"]

    def transcript(
        self,
        app: Optional[str] = None,
        account: Optional[str] = None,
        operation: Optional[str] = None,
        redact: Optional[str] = None,
    ) -> Dict[str, Any]:
        """The journal as a replayable transcript (``mock.transcript``): each
        request as sent and its answer. ``redact``: ``payload``, ``keys`` or
        ``all``. Save it as JSON and ``stripe-secrets-mock verify`` replays it."""
        return self._call(
            "GET",
            "/_mock/transcript",
            {"app": app, "account": account, "operation": operation, "redact": redact},
        )

    def coverage(self) -> Dict[str, Any]:
        """Which outcomes and parameters of each operation the requests so
        far exercised; ``never_exercised`` lists the rest."""
        return self._call("GET", "/_mock/coverage")

    def state(self) -> Dict[str, Any]:
        """All secrets and the clock, in the fixture format."""
        return self._call("GET", "/_mock/state")

    def load_state(self, fixture: Mapping[str, Any]) -> Dict[str, Any]:
        """Replaces all secrets with a fixture (atomic)."""
        return self._call("POST", "/_mock/state", body=dict(fixture))


def _form_value(value: Union[bool, int, str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
