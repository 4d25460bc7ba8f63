"""The pytest plugin (registered through the ``pytest11`` entry point).

``stripe_secrets_mock``: one mock per test session, and for each test its own
API key (derived from the test's id, so every run gets the same bytes), a
``stripe.StripeClient`` for that key pointed at the mock, and the control
methods scoped to that key. The test's app is reset when it ends.

    def test_stores_a_secret(stripe_secrets_mock):
        client = stripe_secrets_mock.client
        client.v1.apps.secrets.create(params={"name": "k", "payload": "v",
                                           "scope": {"type": "account"}})
        assert len(stripe_secrets_mock.requests()) == 1

Server options come from the ``stripe_secrets_mock_options`` fixture
(override it in a ``conftest.py``); the binary from
``STRIPE_SECRETS_MOCK_BIN`` or ``PATH``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterator, List, Optional

import pytest

from . import Clock, MockServer


class MockForTest:
    """What the ``stripe_secrets_mock`` fixture gives a test."""

    def __init__(self, server: MockServer, api_key: str) -> None:
        #: The shared server.
        self.server = server
        #: This test's own key: its app is isolated from every other test's.
        self.api_key = api_key
        #: The server's base URL.
        self.url = server.url
        #: The server's clock (shared by every test of the session).
        self.clock: Clock = server.clock
        self._client: Any = None

    @property
    def client(self) -> Any:
        """A ``stripe.StripeClient`` for this test's key, pointed at the
        mock (needs the ``stripe`` package)."""
        if self._client is None:
            self._client = self.stripe_client()
        return self._client

    def stripe_client(self, api_key: Optional[str] = None, **options: Any) -> Any:
        """A new ``stripe.StripeClient`` pointed at the mock, for this test's
        key (or ``api_key``), with any other client options
        (``max_network_retries=2``, ``stripe_account=...``)."""
        try:
            import stripe
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "stripe_secrets_mock.client needs the stripe package: pip install stripe"
            ) from e
        return stripe.StripeClient(
            api_key or self.api_key, base_addresses={"api": self.url}, **options
        )

    def requests(self, operation: Optional[str] = None) -> List[Dict[str, Any]]:
        """This test's requests, from the journal."""
        return self.server.requests(operation=operation, app=self.api_key)

    def transcript(self, redact: Optional[str] = None) -> Dict[str, Any]:
        """This test's requests and answers, as a replayable transcript."""
        return self.server.transcript(app=self.api_key, redact=redact)

    def reset(self, account: Optional[str] = None) -> Dict[str, Any]:
        """This test's app back to the startup state."""
        return self.server.reset(app=self.api_key, account=account)

    def inject_fault(self, status: Optional[int] = None, **options: Any) -> Dict[str, Any]:
        """A fault for this test's requests only (see ``MockServer.inject_fault``)."""
        options.setdefault("app", self.api_key)
        return self.server.inject_fault(status, **options)

    def state(self) -> Dict[str, Any]:
        """All secrets (every app's) and the clock, in the fixture format."""
        return self.server.state()


@pytest.fixture(scope="session")
def stripe_secrets_mock_options() -> Dict[str, Any]:
    """CLI options of the session's mock (override in a conftest.py)."""
    return {}


@pytest.fixture(scope="session")
def stripe_secrets_mock_server(
    stripe_secrets_mock_options: Dict[str, Any],
) -> Iterator[MockServer]:
    """The session's mock server."""
    with MockServer(**stripe_secrets_mock_options) as server:
        yield server


@pytest.fixture
def stripe_secrets_mock(
    stripe_secrets_mock_server: MockServer, request: pytest.FixtureRequest
) -> Iterator[MockForTest]:
    """The session's mock, seen through this test's own API key."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:24]
    mock = MockForTest(stripe_secrets_mock_server, f"sk_test_{digest}")
    yield mock
    mock.reset()
