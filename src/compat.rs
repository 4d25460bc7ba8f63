//! stripe-mock's command-line flags, translated to this mock's, so a script
//! that starts `stripe-mock -http-port 12111` can start this binary instead.
//!
//! stripe-mock (Go's `flag` package) accepts `-name value`, `-name=value` and
//! the same with `--`. Its names that mean the same here are rewritten; the
//! ones that have no equivalent are refused with a sentence saying why,
//! rather than silently ignored.

/// Rewrites stripe-mock flags in `args` (without the program name).
pub(crate) fn translate(args: Vec<String>) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let Some((name, inline)) = stripe_mock_flag(&arg) else {
            out.push(arg);
            continue;
        };
        let value = |iter: &mut std::vec::IntoIter<String>| {
            inline
                .clone()
                .or_else(|| iter.next())
                .ok_or_else(|| format!("-{name} needs a value"))
        };
        match name.as_str() {
            "http-port" | "port" => {
                out.push("--port".into());
                out.push(value(&mut iter)?);
            }
            "http-addr" => {
                let addr = value(&mut iter)?;
                let (host, port) = addr
                    .rsplit_once(':')
                    .ok_or_else(|| format!("-http-addr wants HOST:PORT, got {addr}"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                out.push("--host".into());
                out.push(if host.is_empty() {
                    "0.0.0.0".into()
                } else {
                    host.into()
                });
                out.push("--port".into());
                out.push(port.into());
            }
            "version" => out.push("--version".into()),
            "https-port" | "https-addr" | "https-unix" | "http-unix" | "unix" => {
                return Err(format!(
                    "-{name} is a stripe-mock flag this mock does not support: it serves plain \
                     HTTP on TCP only (use --host and --port)"
                ))
            }
            "spec" | "fixtures" => {
                return Err(format!(
                    "-{name} is a stripe-mock flag for stripe-mock's own formats; this mock embeds \
                     its spec and takes fixtures in its own format with --fixtures PATH"
                ))
            }
            // A Go boolean flag: `-strict-version-check`, `=true`, `=false`.
            "strict-version-check" => match inline.as_deref() {
                None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => {
                    out.push("--strict-version-check".into())
                }
                Some("false" | "0" | "f" | "F" | "FALSE" | "False") => {}
                Some(other) => {
                    return Err(format!(
                        "-strict-version-check takes true or false, not {other}"
                    ))
                }
            },
            _ => unreachable!("stripe_mock_flag only returns known names"),
        }
    }
    Ok(out)
}

/// The stripe-mock flag `arg` names, and its `=value` if inline. Only
/// single-dash forms of names this mock also has (`-port`, `-fixtures`,
/// `-version`) count as stripe-mock's; `--port` and friends are ours.
fn stripe_mock_flag(arg: &str) -> Option<(String, Option<String>)> {
    const ONLY_STRIPE_MOCK: &[&str] = &[
        "http-port",
        "http-addr",
        "https-port",
        "https-addr",
        "http-unix",
        "https-unix",
        "unix",
        "spec",
        "strict-version-check",
    ];
    const SHARED: &[&str] = &["port", "fixtures", "version"];
    let (double, body) = match arg.strip_prefix("--") {
        Some(rest) => (true, rest),
        None => (false, arg.strip_prefix('-')?),
    };
    let (name, inline) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (body, None),
    };
    let known = ONLY_STRIPE_MOCK.contains(&name) || (!double && SHARED.contains(&name));
    known.then(|| (name.to_string(), inline))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Result<Vec<String>, String> {
        translate(args.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn ports_and_addresses_map_to_host_and_port() {
        assert_eq!(t(&["-http-port", "12111"]).unwrap(), ["--port", "12111"]);
        assert_eq!(t(&["--http-port=0"]).unwrap(), ["--port", "0"]);
        assert_eq!(t(&["-port", "5"]).unwrap(), ["--port", "5"]);
        assert_eq!(
            t(&["-http-addr", "127.0.0.1:9"]).unwrap(),
            ["--host", "127.0.0.1", "--port", "9"]
        );
        assert_eq!(
            t(&["-http-addr=:9"]).unwrap(),
            ["--host", "0.0.0.0", "--port", "9"]
        );
        assert_eq!(
            t(&["-http-addr=[::1]:9"]).unwrap(),
            ["--host", "::1", "--port", "9"]
        );
    }

    #[test]
    fn our_own_flags_pass_through() {
        let ours = [
            "--port",
            "1",
            "--fixtures",
            "f.json",
            "--seed",
            "3",
            "check-fixtures",
            "x",
        ];
        assert_eq!(t(&ours).unwrap(), ours);
    }

    #[test]
    fn unsupported_stripe_mock_flags_are_refused_with_a_reason() {
        assert!(t(&["-https-port", "12112"])
            .unwrap_err()
            .contains("plain HTTP"));
        assert!(t(&["-fixtures", "x.json"])
            .unwrap_err()
            .contains("--fixtures PATH"));
        assert_eq!(
            t(&["-strict-version-check"]).unwrap(),
            ["--strict-version-check"]
        );
        assert_eq!(
            t(&["--strict-version-check"]).unwrap(),
            ["--strict-version-check"]
        );
        assert!(t(&["-strict-version-check=false"]).unwrap().is_empty());
        assert!(t(&["-strict-version-check=maybe"]).is_err());
        assert!(t(&["-http-port"]).unwrap_err().contains("needs a value"));
    }
}
