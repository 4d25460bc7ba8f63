//! Generates the suite: `SUITE_TESTS` (default 100) tests per server kind,
//! each of which starts a server, creates a secret and finds it.

fn main() {
    println!("cargo:rerun-if-env-changed=SUITE_TESTS");
    let n: usize = std::env::var("SUITE_TESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut out = String::new();
    for kind in ["mock", "wiremock"] {
        out.push_str(&format!("mod {kind} {{\n"));
        for i in 0..n {
            out.push_str(&format!(
                "    #[tokio::test]\n    async fn t{i:04}() {{ crate::{kind}_case({i}).await }}\n"
            ));
        }
        out.push_str("}\n");
    }
    let dir = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{dir}/suite.rs"), out).unwrap();
}
