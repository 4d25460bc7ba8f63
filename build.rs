//! Prepares the two bundled OpenAPI documents at build time with the
//! crate's own `src/openapi/prepare.rs`, so that a process serves its first
//! request without reading an OpenAPI document (docs/benchmarks.md, "first
//! answer"). A document given at run time goes through the same code.

#[allow(dead_code)]
#[path = "src/openapi/schema.rs"]
mod schema;

#[path = "src/openapi/prepare.rs"]
mod prepare;

fn main() {
    println!("cargo:rerun-if-changed=src/openapi/prepare.rs");
    println!("cargo:rerun-if-changed=src/openapi/schema.rs");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["apps_secrets", "mock_control"] {
        let source = format!("spec/{name}.openapi.json");
        println!("cargo:rerun-if-changed={source}");
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let prepared = prepare::prepare(&text).unwrap_or_else(|e| panic!("{source}: {e}"));
        let json = serde_json::to_string(&prepared).expect("a prepared document serialises");
        std::fs::write(format!("{out}/{name}.prepared.json"), json)
            .unwrap_or_else(|e| panic!("{out}: {e}"));
    }
}
