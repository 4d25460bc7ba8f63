//! Many clients at once on overlapping names in shared scopes, with and
//! without idempotency keys: the per-scope limit holds, every answer is
//! well formed, and replaying the journal one request at a time on a fresh
//! server (same seed) reproduces the end state.

use serde_json::Value;
use stripe_secrets_mock::MockServer;

use crate::support::Client;

const CLIENTS: usize = 8;
const REQUESTS: usize = 60;
const MAX_PER_SCOPE: usize = 3;

/// A deterministic stream of small numbers for one client.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % sides
    }
}

/// Form encoding of journal parameters (bracket notation), the inverse of
/// the mock's decoding.
fn encode(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                encode(&key, v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                encode(&format!("{prefix}[]"), v, out);
            }
        }
        Value::String(s) => out.push(format!("{prefix}={s}")),
        other => out.push(format!("{prefix}={other}")),
    }
}

fn form(params: &Value) -> String {
    let mut out = Vec::new();
    encode("", params, &mut out);
    out.join("&")
}

async fn one_client(client: Client, seed: u64) {
    let mut dice = Dice(seed);
    for i in 0..REQUESTS {
        let name = ["a", "b", "c", "d", "e"][dice.roll(5) as usize];
        let scope = if dice.roll(2) == 0 {
            "scope[type]=account".to_string()
        } else {
            "scope[type]=user&scope[user]=usr_1".to_string()
        };
        let res = match dice.roll(5) {
            0 | 1 => match dice.roll(3) {
                0 => {
                    let body = format!("name={name}&payload=p{seed}x{i}&{scope}");
                    client.post("/v1/apps/secrets", &body).await
                }
                // Keys every client may use, each always with the same
                // parameters: some answers are replays.
                _ => {
                    let key = format!("k{}-{name}-{}", i % 4, scope.len());
                    let body = format!("name={name}&payload=p-{key}&{scope}");
                    client
                        .clone()
                        .header("idempotency-key", &key)
                        .post("/v1/apps/secrets", &body)
                        .await
                }
            },
            2 => {
                client
                    .post("/v1/apps/secrets/delete", &format!("name={name}&{scope}"))
                    .await
            }
            3 => {
                client
                    .get(&format!("/v1/apps/secrets/find?name={name}&{scope}"))
                    .await
            }
            _ => client.get(&format!("/v1/apps/secrets?{scope}")).await,
        };
        // Well formed: an object or a Stripe error, never anything else.
        match res.status {
            200 => assert!(res.body["object"].is_string(), "{}", res.text),
            400 | 404 => assert!(res.body["error"]["message"].is_string(), "{}", res.text),
            other => panic!("unexpected {other}: {}", res.text),
        }
        if res.status == 200 && res.body["object"] == "list" {
            let listed = res.body["data"].as_array().unwrap().len();
            assert!(listed <= MAX_PER_SCOPE, "{}", res.text);
        }
    }
}

/// The state with payloads left out (the journal redacts them).
fn without_payloads(mut state: Value) -> Value {
    for s in state["secrets"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("payload");
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_keep_the_limits_and_the_journal_replays_to_the_same_state() {
    let start = || {
        MockServer::builder()
            .seed(9)
            .max_secrets_per_scope(MAX_PER_SCOPE)
            .start()
    };
    let server = start().await;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = Client::new(&server, "sk_test_shared");
            tokio::spawn(one_client(client, c as u64 + 1))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let state = server.export_state();
    let mut per_scope = std::collections::BTreeMap::new();
    for s in state["secrets"].as_array().unwrap() {
        *per_scope.entry(s["scope"].to_string()).or_insert(0) += 1;
    }
    assert!(
        per_scope.values().all(|n| *n <= MAX_PER_SCOPE),
        "{per_scope:?}"
    );
    let journal = server.received_requests();
    assert_eq!(journal.len(), CLIENTS * REQUESTS);
    assert!(
        journal.iter().any(|r| r.replayed),
        "some keyed POSTs were replays"
    );

    // One request at a time, in journal order. A replayed answer changed
    // nothing; a find of a name that never exists takes its place in the
    // app's id stream.
    let fresh = start().await;
    let client = Client::new(&fresh, "sk_test_shared");
    for entry in &journal {
        let params = entry.params.as_ref().unwrap();
        let res = if entry.replayed {
            client.find("never").await
        } else if entry.method == "GET" {
            client
                .get(&format!("{}?{}", entry.path, form(params)))
                .await
        } else {
            client.post(&entry.path, &form(params)).await
        };
        if !entry.replayed {
            assert_eq!(Some(res.status), entry.status, "{entry:?}: {}", res.text);
            assert_eq!(res.must("request-id"), entry.request_id);
        }
    }
    assert_eq!(
        without_payloads(fresh.export_state()),
        without_payloads(state)
    );
}
