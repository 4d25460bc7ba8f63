"""The official Stripe Python SDK (pinned in tests/sdk/requirements.txt)
against the standalone mock, through the project's own pytest fixture
(clients/python): every operation, the SDK's error classes, livemode, and
its automatic retries against injected faults.

Run: STRIPE_SECRETS_MOCK_BIN=path/to/stripe-secrets-mock python3 -m pytest tests/sdk/python
"""

import pytest
import stripe

ACCOUNT = {"type": "account"}


def create(client, name, payload="v", **extra):
    return client.v1.apps.secrets.create(
        params={"name": name, "payload": payload, "scope": ACCOUNT, **extra}
    )


def test_create_hides_the_payload_unless_expanded(stripe_secrets_mock):
    client = stripe_secrets_mock.client
    s = create(client, "sdk-key", "s3cr3t")
    assert s.object == "apps.secret"
    assert s.id.startswith("appsecret_")
    assert (s.name, s.scope.type, s.livemode) == ("sdk-key", "account", False)
    assert "payload" not in s
    shown = create(client, "sdk-expanded", "visible", expand=["payload"])
    assert shown.payload == "visible"


def test_user_scope_round_trips(stripe_secrets_mock):
    s = stripe_secrets_mock.client.v1.apps.secrets.create(
        params={"name": "per-user", "payload": "tok", "scope": {"type": "user", "user": "usr_42"}}
    )
    assert (s.scope.type, s.scope.user) == ("user", "usr_42")


def test_find_with_and_without_expand(stripe_secrets_mock):
    client = stripe_secrets_mock.client
    create(client, "sdk-key", "s3cr3t")
    plain = client.v1.apps.secrets.find(params={"name": "sdk-key", "scope": ACCOUNT})
    assert "payload" not in plain
    full = client.v1.apps.secrets.find(
        params={"name": "sdk-key", "scope": ACCOUNT, "expand": ["payload"]}
    )
    assert full.payload == "s3cr3t"
    assert full.id == plain.id


def test_replace_keeps_one_secret_with_the_new_payload(stripe_secrets_mock):
    client = stripe_secrets_mock.client
    before = create(client, "sdk-key", "old")
    after = create(client, "sdk-key", "rotated", expand=["payload"])
    assert after.id != before.id and after.payload == "rotated"
    listed = client.v1.apps.secrets.list(params={"scope": ACCOUNT})
    assert [s.id for s in listed.data] == [after.id]


def test_list_paginates_with_the_sdks_auto_pager(stripe_secrets_mock):
    client = stripe_secrets_mock.client
    for i in range(5):
        create(client, f"page-{i}")
    page = client.v1.apps.secrets.list(params={"scope": ACCOUNT, "limit": 2})
    assert len(page.data) == 2 and page.has_more is True
    names = [s.name for s in page.auto_paging_iter()]
    assert names == ["page-4", "page-3", "page-2", "page-1", "page-0"]
    expanded = client.v1.apps.secrets.list(
        params={"scope": ACCOUNT, "limit": 1, "expand": ["data.payload"]}
    )
    assert expanded.data[0].payload == "v"


def test_delete_where_returns_the_deleted_secret(stripe_secrets_mock):
    client = stripe_secrets_mock.client
    create(client, "gone")
    d = client.v1.apps.secrets.delete_where(params={"name": "gone", "scope": ACCOUNT})
    assert d.deleted is True and d.name == "gone"


def test_a_missing_secret_is_the_sdks_invalid_request_error(stripe_secrets_mock):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_secrets_mock.client.v1.apps.secrets.find(params={"name": "nope", "scope": ACCOUNT})
    e = caught.value
    assert (e.http_status, e.code, e.param) == (404, "resource_missing", "name")
    assert "No such secret: 'nope'" in str(e)
    assert e.request_id and e.request_id.startswith("req_")


def test_a_bad_parameter_is_reported_with_its_param(stripe_secrets_mock):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_secrets_mock.client.v1.apps.secrets.list(params={"scope": {"type": "team"}})
    assert (caught.value.http_status, caught.value.param) == (400, "scope[type]")


def test_a_bad_key_is_an_authentication_error(stripe_secrets_mock):
    client = stripe_secrets_mock.stripe_client("sk_test_bad-key")
    with pytest.raises(stripe.AuthenticationError) as caught:
        client.v1.apps.secrets.list(params={"scope": ACCOUNT})
    assert caught.value.http_status == 401


def test_a_live_key_gives_livemode(stripe_secrets_mock):
    client = stripe_secrets_mock.stripe_client(stripe_secrets_mock.api_key.replace("_test_", "_live_"))
    assert create(client, "live").livemode is True
    stripe_secrets_mock.server.reset(app=stripe_secrets_mock.api_key.replace("_test_", "_live_"))


def test_the_resource_style_api_works_against_the_mock_too(stripe_secrets_mock, monkeypatch):
    monkeypatch.setattr(stripe, "api_base", stripe_secrets_mock.url)
    monkeypatch.setattr(stripe, "api_key", stripe_secrets_mock.api_key)
    s = stripe.apps.Secret.create(name="classic", payload="v", scope=ACCOUNT)
    found = stripe.apps.Secret.find(name="classic", scope=ACCOUNT, expand=["payload"])
    assert (found.id, found.payload) == (s.id, "v")


def test_the_automatic_retry_after_a_lost_500_ends_in_exactly_one_secret(stripe_secrets_mock):
    stripe_secrets_mock.inject_fault(500, after=True, operation="postAppsSecrets")
    client = stripe_secrets_mock.stripe_client(max_network_retries=2)
    s = create(client, "once")
    listed = client.v1.apps.secrets.list(params={"scope": ACCOUNT})
    assert [x.id for x in listed.data] == [s.id]
    seen = [(r["status"], r["fault"], r["replayed"])
            for r in stripe_secrets_mock.requests("postAppsSecrets")]
    assert seen == [(500, "status 500 after execution", False), (200, None, True)]


def test_the_automatic_retry_after_an_injected_409_ends_in_exactly_one_secret(stripe_secrets_mock):
    stripe_secrets_mock.inject_fault(409, operation="postAppsSecrets")
    client = stripe_secrets_mock.stripe_client(max_network_retries=2)
    create(client, "once")
    assert len(client.v1.apps.secrets.list(params={"scope": ACCOUNT}).data) == 1
    assert [r["status"] for r in stripe_secrets_mock.requests("postAppsSecrets")] == [409, 200]
