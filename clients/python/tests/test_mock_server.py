"""The Python helper's own tests: starting, options, control calls, errors,
and the pytest fixture's isolation. Needs the binary (STRIPE_SECRETS_MOCK_BIN
or PATH) and pytest; the stripe SDK only for the fixture's client."""

import json
import urllib.request

import pytest

from stripe_secrets_mock import BINARY_ENV, MockError, MockServer, find_binary


#: Keys the fixture handed out, in test order.
KEYS_SEEN = []


def raw(url, method="GET", key=None, form=None):
    data = None if form is None else "&".join(f"{k}={v}" for k, v in form.items()).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_server_starts_on_a_free_port_and_stops_on_exit():
    with MockServer() as mock:
        assert mock.url.startswith("http://127.0.0.1:")
        assert mock.port > 0
        assert mock.health()["status"] == "ok"
        url = mock.url
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/_mock/health", timeout=2)


def test_keyword_options_become_cli_flags():
    with MockServer(seed=7, now=1_800_000_000, max_secrets_per_scope=1) as mock:
        assert mock.clock.now() == 1_800_000_000
        form = {"name": "a", "payload": "v", "scope[type]": "account"}
        assert raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_1", form)[0] == 200
        form["name"] = "b"
        status, body = raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_1", form)
        assert status == 400 and body["error"]["param"] == "name"


def test_the_clock_moves_and_expires_secrets():
    with MockServer() as mock:
        form = {
            "name": "k",
            "payload": "v",
            "scope[type]": "account",
            "expires_at": mock.clock.now() + 60,
        }
        raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_1", form)
        find = mock.url + "/v1/apps/secrets/find?name=k&scope[type]=account"
        assert raw(find, key="sk_test_1")[0] == 200
        assert mock.clock.advance(60) == 1_700_000_060
        assert raw(find, key="sk_test_1")[0] == 404
        assert mock.clock.set(1_700_000_000) == 1_700_000_000


def test_faults_journal_reset_and_state():
    with MockServer() as mock:
        fault = mock.inject_fault(503, operation="postAppsSecrets", count=1)
        assert fault["status"] == 503 and mock.faults()[0]["remaining"] == 1
        form = {"name": "k", "payload": "v", "scope[type]": "account"}
        assert raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_1", form)[0] == 503
        assert raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_1", form)[0] == 200
        journal = mock.requests(operation="postAppsSecrets")
        assert [r["status"] for r in journal] == [503, 200]
        assert journal[0]["params"]["payload"] == "[redacted]"
        state = mock.state()
        assert [s["name"] for s in state["secrets"]] == ["k"]
        assert mock.reset(app="sk_test_1")["requests_removed"] == 2
        assert mock.state()["secrets"] == []
        assert mock.load_state(state)["secrets"] == 1


def test_transcript_and_coverage():
    with MockServer() as mock:
        form = {"name": "k", "payload": "v", "scope[type]": "account"}
        assert raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_1", form)[0] == 200
        assert raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_2", form)[0] == 200
        t = mock.transcript(app="sk_test_1")
        assert t["object"] == "mock.transcript" and t["version"] == 1
        [only] = t["interactions"]
        assert only["request"]["params"] == {"name": "k", "payload": "v", "scope": {"type": "account"}}
        assert only["response"]["status"] == 200
        assert mock.transcript(redact="payload")["interactions"][1]["request"]["params"]["payload"] == "[redacted]"
        covered = mock.coverage()
        assert covered["requests"] == 2
        assert "postAppsSecrets: 400 scope_full" in covered["never_exercised"]
        assert "postAppsSecrets: 200" not in covered["never_exercised"]


def test_a_control_token_is_passed_and_sent():
    with MockServer(control_token="t0ken") as mock:
        assert mock.health()["status"] == "ok"
        status, body = raw(mock.url + "/_mock/health")
        assert status == 401, body


def test_a_refused_control_request_raises_with_the_mocks_message():
    with MockServer() as mock:
        with pytest.raises(MockError, match="400: This value must be greater than or equal to 1"):
            mock.inject_fault(503, count=0)


def test_a_bad_option_shows_the_mocks_stderr():
    with pytest.raises(MockError, match="cannot read"):
        MockServer(fixtures=["/no/such/fixture.json"]).start()


def test_a_missing_binary_names_both_places_to_put_it(monkeypatch):
    monkeypatch.setenv(BINARY_ENV, "")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MockError) as e:
        find_binary()
    assert BINARY_ENV in str(e.value) and "PATH" in str(e.value)
    monkeypatch.setenv(BINARY_ENV, "/no/such/binary")
    with pytest.raises(MockError, match="not an executable"):
        find_binary()


def test_calls_on_a_stopped_server_say_so():
    mock = MockServer()
    with pytest.raises(MockError, match="not running"):
        mock.health()


def test_the_fixture_gives_each_test_its_own_key(stripe_secrets_mock):
    assert stripe_secrets_mock.api_key.startswith("sk_test_")
    status, _ = raw(
        stripe_secrets_mock.url + "/v1/apps/secrets",
        "POST",
        stripe_secrets_mock.api_key,
        {"name": "mine", "payload": "v", "scope[type]": "account"},
    )
    assert status == 200
    assert len(stripe_secrets_mock.requests()) == 1
    KEYS_SEEN.append(stripe_secrets_mock.api_key)


def test_the_next_test_has_another_key_and_a_clean_app(stripe_secrets_mock):
    # Runs after the test above (pytest keeps file order).
    (previous,) = KEYS_SEEN
    assert stripe_secrets_mock.api_key != previous
    assert stripe_secrets_mock.requests() == []
    # The previous test's app was reset when it ended.
    assert stripe_secrets_mock.server.requests(app=previous) == []


def test_the_fixture_client_is_a_stripe_client_for_the_tests_key(stripe_secrets_mock):
    stripe = pytest.importorskip("stripe")
    client = stripe_secrets_mock.client
    assert isinstance(client, stripe.StripeClient)
    secret = client.v1.apps.secrets.create(
        params={"name": "k", "payload": "v", "scope": {"type": "account"}}
    )
    assert secret.object == "apps.secret"
    assert stripe_secrets_mock.requests()[0]["operation"] == "postAppsSecrets"


def test_an_app_manifest_without_secret_write_refuses_the_store(tmp_path):
    form = {"name": "k", "payload": "v", "scope[type]": "account"}
    for permissions, status in ([["customer_read"], 403], [["secret_write"], 200]):
        manifest = tmp_path / f"stripe-app-{status}.json"
        manifest.write_text(json.dumps({
            "id": "com.example.app",
            "permissions": [{"permission": p, "purpose": "x"} for p in permissions],
        }))
        with MockServer(app_manifest=[str(manifest)]) as mock:
            got, body = raw(mock.url + "/v1/apps/secrets", "POST", "sk_test_py", form)
            assert got == status, body
            if status == 403:
                assert body["error"]["code"] == "more_permissions_required_for_application"
