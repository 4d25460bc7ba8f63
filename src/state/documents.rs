//! Fixture documents as read from files, inline text or a request body, and
//! the two ways the loader reads them: the document without its secrets
//! (its own fields and the clock), and its secrets one at a time. A file is
//! streamed: no more than one secret is ever parsed at once, so loading
//! 100,000 secrets costs what they cost in the store, not ten times that
//! as a parsed document.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::{json, Map, Value};

use crate::config::FixtureSource;
use crate::error::FixtureError;

/// One fixture document and the name its errors carry.
pub(crate) struct Doc {
    /// A file name, the inline name, or `request body`.
    pub name: String,
    /// The document.
    body: Body,
}

/// A document as text (streamed) or already parsed.
enum Body {
    Text(String),
    Parsed(Value),
}

/// Bytes of fixture text read in all, at most: each file is bounded, and a
/// folder of many files is bounded by this (the store holds at most
/// 128 MiB of secrets, and a fixture's text is about what it stores).
pub(crate) const MAX_FIXTURES_BYTES: usize = 256 << 20;

/// Reads every source, in order (folders: their `*.json` by name), at most
/// [`MAX_FIXTURES_BYTES`] of them in all.
pub(crate) fn read(sources: &[FixtureSource]) -> Result<Vec<Doc>, FixtureError> {
    let mut docs = Vec::new();
    let mut total = 0;
    let mut push = |doc: Doc, docs: &mut Vec<Doc>| {
        total += doc.len();
        if total > MAX_FIXTURES_BYTES {
            return Err(FixtureError(format!(
                "{}: the fixtures hold more than {MAX_FIXTURES_BYTES} bytes in all, the most \
                 that is read",
                doc.name
            )));
        }
        docs.push(doc);
        Ok(())
    };
    for source in sources {
        match source {
            FixtureSource::Path(path) if path.is_dir() => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| {
                        FixtureError(format!("{}: cannot read folder: {e}", path.display()))
                    })?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                files.sort();
                for file in files {
                    push(read_file(&file)?, &mut docs)?;
                }
            }
            FixtureSource::Path(path) => push(read_file(path)?, &mut docs)?,
            FixtureSource::Inline { name, json } => push(
                Doc {
                    name: name.clone(),
                    body: Body::Text(json.clone()),
                },
                &mut docs,
            )?,
        }
    }
    Ok(docs)
}

/// Largest fixture file read, in bytes.
pub(crate) const MAX_FIXTURE_BYTES: u64 = 16 << 20;

/// Reads one fixture file: only a regular file (a FIFO would block start-up
/// forever, a device such as `/dev/zero` never ends), of at most
/// [`MAX_FIXTURE_BYTES`], counted on the bytes read whatever its size said.
fn read_file(path: &Path) -> Result<Doc, FixtureError> {
    let name = path.display().to_string();
    let text = read_regular(path, MAX_FIXTURE_BYTES, "a fixture")
        .map_err(|why| FixtureError(format!("{name}: {why}")))?;
    Ok(Doc {
        name,
        body: Body::Text(text),
    })
}

/// The text of `path`, which must be a regular file of at most `max`
/// bytes (a FIFO, socket or device is never read: opening a FIFO waits for
/// a writer). `what` names the file in the error.
pub(crate) fn read_regular(path: &Path, max: u64, what: &str) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read: {e}");
    let regular = |m: &std::fs::Metadata| match m.is_file() {
        true => Ok(()),
        false => Err(format!(
            "not a regular file (a FIFO, socket or device is never read as {what})"
        )),
    };
    // Checked before opening, and on the file opened.
    regular(&std::fs::metadata(path).map_err(cannot)?)?;
    let file = std::fs::File::open(path).map_err(cannot)?;
    regular(&file.metadata().map_err(cannot)?)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "larger than {max} bytes, the most {what} file may hold"
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("cannot read: {e}"))
}

impl Doc {
    /// The bytes of its text (0 for a parsed document: it was bounded
    /// where it was read).
    fn len(&self) -> usize {
        match &self.body {
            Body::Text(t) => t.len(),
            Body::Parsed(_) => 0,
        }
    }

    /// A document already parsed (an import's request body).
    pub fn parsed(name: &str, value: Value) -> Doc {
        Doc {
            name: name.to_string(),
            body: Body::Parsed(value),
        }
    }

    fn error(&self, pointer: &str, rule: impl fmt::Display) -> FixtureError {
        FixtureError(format!("{}: {pointer}: {rule}", self.name))
    }

    /// The document with `secrets` replaced by an empty list: what is left
    /// to check against the `fixture` schema. Reading a text checks that
    /// all of it is JSON.
    pub fn head(&self) -> Result<Value, FixtureError> {
        match &self.body {
            Body::Parsed(Value::Object(map)) => {
                let mut head = map.clone();
                if head.contains_key("secrets") && head["secrets"].is_array() {
                    head.insert("secrets".into(), json!([]));
                }
                Ok(Value::Object(head))
            }
            Body::Parsed(other) => Ok(other.clone()),
            Body::Text(text) => {
                let mut de = serde_json::Deserializer::from_str(text);
                let head = de
                    .deserialize_any(HeadVisitor)
                    .and_then(|head| de.end().map(|()| head))
                    .map_err(|e| self.json_error(&e, "/", "must be of type object"))?;
                Ok(Value::Object(head))
            }
        }
    }

    /// Calls `each(i, secret)` for every entry of `secrets`, in order,
    /// stopping at the first error.
    pub fn each_secret(
        &self,
        mut each: impl FnMut(usize, &Value) -> Result<(), FixtureError>,
    ) -> Result<(), FixtureError> {
        match &self.body {
            Body::Parsed(doc) => {
                let secrets = doc.get("secrets").and_then(Value::as_array);
                for (i, secret) in secrets.into_iter().flatten().enumerate() {
                    each(i, secret)?;
                }
                Ok(())
            }
            Body::Text(text) => {
                let mut stopped = None;
                let mut de = serde_json::Deserializer::from_str(text);
                let streamed = de.deserialize_map(StreamVisitor {
                    each: &mut each,
                    stopped: &mut stopped,
                });
                match (stopped, streamed) {
                    (Some(e), _) => Err(e),
                    (None, Ok(())) => Ok(()),
                    (None, Err(e)) => Err(self.json_error(&e, "/secrets", "must be of type array")),
                }
            }
        }
    }

    /// A parse error: bad JSON, or JSON of the wrong type at `pointer`.
    fn json_error(&self, e: &serde_json::Error, pointer: &str, wrong_type: &str) -> FixtureError {
        match e.classify() {
            serde_json::error::Category::Data => self.error(pointer, wrong_type),
            _ => FixtureError(format!("{}: not valid JSON: {e}", self.name)),
        }
    }
}

/// Reads a document's fields, skipping (but checking the syntax of) the
/// secrets.
struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fixture object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut head = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "secrets" {
                map.next_value::<IgnoredAny>()?;
                // An array becomes empty; any other value is reported when
                // the secrets are read.
                head.insert(key, json!([]));
            } else {
                let value: Value = map.next_value()?;
                head.insert(key, value);
            }
        }
        Ok(head)
    }
}

/// Walks a document's `secrets`, one parsed entry at a time.
struct StreamVisitor<'a, F> {
    /// Called for each entry.
    each: &'a mut F,
    /// The error `each` stopped with, if it did.
    stopped: &'a mut Option<FixtureError>,
}

impl<'de, F> Visitor<'de> for StreamVisitor<'_, F>
where
    F: FnMut(usize, &Value) -> Result<(), FixtureError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fixture object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "secrets" {
                map.next_value_seed(SecretsSeed {
                    each: &mut *self.each,
                    stopped: &mut *self.stopped,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `secrets` array, streamed.
struct SecretsSeed<'a, F> {
    each: &'a mut F,
    stopped: &'a mut Option<FixtureError>,
}

impl<'de, F> DeserializeSeed<'de> for SecretsSeed<'_, F>
where
    F: FnMut(usize, &Value) -> Result<(), FixtureError>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for SecretsSeed<'_, F>
where
    F: FnMut(usize, &Value) -> Result<(), FixtureError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of secrets")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(secret) = seq.next_element::<Value>()? {
            if let Err(e) = (self.each)(i, &secret) {
                *self.stopped = Some(e);
                return Err(A::Error::custom("stopped at an invalid secret"));
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Doc {
        Doc {
            name: "a.json".into(),
            body: Body::Text(json.into()),
        }
    }

    fn names(doc: &Doc) -> Result<Vec<String>, FixtureError> {
        let mut seen = Vec::new();
        doc.each_secret(|i, s| {
            seen.push(format!("{i}:{}", s["name"].as_str().unwrap_or("?")));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn a_fixture_file_of_16_mib_is_read_and_one_byte_more_is_refused() {
        let dir = std::env::temp_dir().join(format!("fixture-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let at = dir.join("at.json");
        std::fs::write(&at, vec![b' '; MAX_FIXTURE_BYTES as usize]).unwrap();
        assert_eq!(read_file(&at).unwrap().len(), 16 << 20);
        let over = dir.join("over.json");
        std::fs::write(&over, vec![b' '; MAX_FIXTURE_BYTES as usize + 1]).unwrap();
        let e = read_file(&over).err().unwrap();
        assert!(
            e.0.ends_with("larger than 16777216 bytes, the most a fixture file may hold"),
            "{e:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fixture_text_is_bounded_in_all_not_only_per_file() {
        let inline = |n: usize| FixtureSource::Inline {
            name: format!("f{n}"),
            json: " ".repeat(MAX_FIXTURES_BYTES / 4),
        };
        assert_eq!(
            read(&(0..4).map(inline).collect::<Vec<_>>()).unwrap().len(),
            4
        );
        let e = read(&(0..5).map(inline).collect::<Vec<_>>()).err().unwrap();
        assert!(e.0.starts_with("f4: the fixtures hold more than"), "{e:?}");
    }

    #[test]
    fn a_text_streams_its_secrets_in_order_whatever_the_key_order() {
        let doc = text(r#"{"secrets": [{"name": "a"}, {"name": "b"}], "clock": {"now": 5}}"#);
        assert_eq!(names(&doc).unwrap(), ["0:a", "1:b"]);
        assert_eq!(
            doc.head().unwrap(),
            json!({"secrets": [], "clock": {"now": 5}})
        );
        let parsed = Doc::parsed("body", json!({"secrets": [{"name": "a"}]}));
        assert_eq!(names(&parsed).unwrap(), ["0:a"]);
    }

    #[test]
    fn bad_json_and_wrong_types_name_the_place() {
        let e = text(r#"{"secrets": [}"#).head().unwrap_err();
        assert!(e.0.starts_with("a.json: not valid JSON: "), "{e}");
        assert_eq!(
            text("[1]").head().unwrap_err().0,
            "a.json: /: must be of type object"
        );
        assert_eq!(
            names(&text(r#"{"secrets": 5}"#)).unwrap_err().0,
            "a.json: /secrets: must be of type array"
        );
    }

    #[test]
    fn the_first_error_of_a_secret_stops_the_walk() {
        let doc = text(r#"{"secrets": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}"#);
        let mut seen = 0;
        let e = doc
            .each_secret(|i, _| {
                seen += 1;
                if i == 1 {
                    Err(FixtureError("stop".into()))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!((e.0.as_str(), seen), ("stop", 2));
    }

    #[test]
    fn a_folder_is_read_as_its_json_files_by_name() {
        let dir = std::env::temp_dir().join(format!("fixture-folder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.json", "a.json", "notes.txt"] {
            std::fs::write(dir.join(name), "{}").unwrap();
        }
        // A file among the sources is read as itself.
        let one = read(&[FixtureSource::Path(dir.join("b.json"))]).unwrap();
        assert_eq!(one.len(), 1);
        let docs = read(&[FixtureSource::Path(dir.clone())]).unwrap();
        let names: Vec<String> = docs
            .iter()
            .map(|d| {
                Path::new(&d.name)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into()
            })
            .collect();
        assert_eq!(names, ["a.json", "b.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_parsed_document_loses_only_an_array_of_secrets_from_its_head() {
        let head = |v: Value| Doc::parsed("body", v).head().unwrap();
        assert_eq!(
            head(json!({"secrets": [{"name": "a"}], "clock": {"now": 5}})),
            json!({"secrets": [], "clock": {"now": 5}})
        );
        // Anything else under `secrets` stays, for the schema to refuse.
        assert_eq!(head(json!({"secrets": 5})), json!({"secrets": 5}));
        assert_eq!(
            head(json!({"clock": {"now": 5}})),
            json!({"clock": {"now": 5}})
        );
        assert_eq!(head(json!([1])), json!([1]));
    }
}
