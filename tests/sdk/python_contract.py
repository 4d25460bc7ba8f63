"""Drives the standalone mock with the official `stripe` Python SDK.

Usage: python3 tests/sdk/python_contract.py PATH/TO/stripe-secrets-mock

Starts the binary on --port 0, reads the port from its first line, and
checks what the SDK sees for every operation and the common errors. Prints
one line per check and a closing `N passed, N failed` line; exits non-zero
on any failure.
"""

import json
import subprocess
import sys
import traceback
import urllib.parse
import urllib.request

import stripe

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def account(name, payload, **extra):
    return stripe.apps.Secret.create(
        name=name, payload=payload, scope={"type": "account"}, **extra
    )


@check
def create_without_expand_hides_the_payload():
    s = account("sdk-key", "s3cr3t")
    assert s.object == "apps.secret", s
    assert s.id.startswith("appsecret_"), s.id
    assert s.name == "sdk-key"
    assert s.scope.type == "account"
    assert "payload" not in s, s
    assert s.livemode is False


@check
def create_with_expand_returns_the_payload():
    s = account("sdk-expanded", "visible", expand=["payload"])
    assert s.payload == "visible", s


@check
def user_scope_round_trips():
    s = stripe.apps.Secret.create(
        name="per-user", payload="tok", scope={"type": "user", "user": "usr_42"}
    )
    assert s.scope.type == "user" and s.scope.user == "usr_42", s


@check
def find_with_and_without_expand():
    plain = stripe.apps.Secret.find(name="sdk-key", scope={"type": "account"})
    assert "payload" not in plain
    full = stripe.apps.Secret.find(
        name="sdk-key", scope={"type": "account"}, expand=["payload"]
    )
    assert full.payload == "s3cr3t", full
    assert full.id == plain.id


@check
def replace_keeps_one_secret_with_the_new_payload():
    before = stripe.apps.Secret.find(name="sdk-key", scope={"type": "account"})
    after = account("sdk-key", "rotated", expand=["payload"])
    assert after.id != before.id
    found = stripe.apps.Secret.find(
        name="sdk-key", scope={"type": "account"}, expand=["payload"]
    )
    assert found.payload == "rotated"


@check
def list_paginates_with_the_sdk_auto_pager():
    for i in range(5):
        account(f"page-{i}", "v")
    page = stripe.apps.Secret.list(scope={"type": "account"}, limit=2)
    assert len(page.data) == 2 and page.has_more is True, page
    names = [s.name for s in page.auto_paging_iter()]
    # 5 page-* secrets, sdk-key and sdk-expanded, newest first.
    assert names[:5] == ["page-4", "page-3", "page-2", "page-1", "page-0"], names
    assert sorted(names) == sorted(set(names)) and len(names) == 7, names
    expanded = stripe.apps.Secret.list(
        scope={"type": "account"}, limit=1, expand=["data.payload"]
    )
    assert expanded.data[0].payload == "v"


@check
def delete_where_returns_the_deleted_secret():
    d = stripe.apps.Secret.delete_where(name="page-0", scope={"type": "account"})
    assert d.deleted is True and d.name == "page-0", d


@check
def a_missing_secret_is_the_sdks_invalid_request_error():
    try:
        stripe.apps.Secret.find(name="page-0", scope={"type": "account"})
    except stripe.InvalidRequestError as e:
        assert e.http_status == 404, e.http_status
        assert e.code == "resource_missing", e.code
        assert e.param == "name", e.param
        assert e.user_message is None or "page-0" in str(e)
        assert "No such secret: 'page-0'" in str(e), str(e)
        assert e.request_id and e.request_id.startswith("req_"), e.request_id
    else:
        raise AssertionError("expected InvalidRequestError")


@check
def a_bad_parameter_is_reported_with_its_param():
    try:
        stripe.apps.Secret.list(scope={"type": "team"})
    except stripe.InvalidRequestError as e:
        assert e.http_status == 400
        assert e.param == "scope[type]", e.param
    else:
        raise AssertionError("expected InvalidRequestError")


@check
def a_bad_key_is_an_authentication_error():
    try:
        stripe.apps.Secret.list(scope={"type": "account"}, api_key="sk_test_bad-key")
    except stripe.AuthenticationError as e:
        assert e.http_status == 401
    else:
        raise AssertionError("expected AuthenticationError")


@check
def a_live_key_gives_livemode():
    s = stripe.apps.Secret.create(
        name="live", payload="v", scope={"type": "account"}, api_key="sk_live_123"
    )
    assert s.livemode is True


BASE = None


def control(method, path, form=None):
    """Calls a /_mock/ control endpoint and returns its JSON answer."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    with urllib.request.urlopen(req) as res:
        return json.load(res)


def journal(key, operation):
    query = urllib.parse.urlencode({"app": key, "operation": operation})
    return control("GET", "/_mock/requests?" + query)["data"]


@check
def the_automatic_retry_after_a_lost_500_ends_in_exactly_one_secret():
    key = "sk_test_pyretry500"
    control("POST", "/_mock/faults", {"status": 500, "after": "true",
                                      "operation": "postAppsSecrets", "app": key})
    s = stripe.apps.Secret.create(name="once", payload="v", scope={"type": "account"},
                                  api_key=key)
    listed = stripe.apps.Secret.list(scope={"type": "account"}, api_key=key)
    assert [x.id for x in listed.data] == [s.id], listed
    seen = [(r["status"], r["fault"], r["replayed"]) for r in journal(key, "postAppsSecrets")]
    assert seen == [(500, "status 500 after execution", False), (200, None, True)], seen


@check
def the_automatic_retry_after_an_injected_409_ends_in_exactly_one_secret():
    key = "sk_test_pyretry409"
    control("POST", "/_mock/faults", {"status": 409, "operation": "postAppsSecrets", "app": key})
    stripe.apps.Secret.create(name="once", payload="v", scope={"type": "account"}, api_key=key)
    listed = stripe.apps.Secret.list(scope={"type": "account"}, api_key=key)
    assert len(listed.data) == 1, listed
    seen = [r["status"] for r in journal(key, "postAppsSecrets")]
    assert seen == [409, 200], seen


def main():
    global BASE
    binary = sys.argv[1]
    proc = subprocess.Popen(
        [binary, "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline().strip()
        prefix = "listening on "
        assert line.startswith(prefix), f"unexpected first line {line!r}"
        BASE = stripe.api_base = line[len(prefix):]
        stripe.api_key = "sk_test_123"
        # Retries on (the SDK then sends an Idempotency-Key on every POST).
        stripe.max_network_retries = 2
        passed = failed = 0
        for fn in CHECKS:
            try:
                fn()
                passed += 1
                print(f"ok   {fn.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc()
        print(f"python-sdk: {passed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
