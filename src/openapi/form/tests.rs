//! Tests of the form decoder and encoder.

use super::*;
use serde_json::json;

fn decode(s: &str) -> Result<Value, ApiError> {
    let mut m = Map::new();
    decode_into(&mut m, s)?;
    Ok(Value::Object(m))
}

#[test]
fn parameters_are_counted_over_query_and_body_up_to_the_bound() {
    let pairs = |n: usize| vec!["a[]=x"; n].join("&");
    let half = pairs(MAX_PARAMS / 2);
    let at = super::decode(&[&half, &half]).unwrap();
    assert_eq!(at["a"].as_array().unwrap().len(), MAX_PARAMS);
    let over = pairs(MAX_PARAMS / 2 + 1);
    let e = super::decode(&[&half, &over]).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(
        e.message,
        "Too many parameters: a request may send at most 256 (query string and body \
         together); this one sent 257."
    );
    // Empty pairs (`&&`) are not parameters.
    assert!(super::decode(&[&format!("{half}&&&&{half}")]).is_ok());
}

#[test]
fn brackets_build_nested_objects_and_arrays() {
    assert_eq!(
        decode("scope[type]=user&scope[user]=usr_1&expand[]=payload&expand[]=scope").unwrap(),
        json!({"scope": {"type": "user", "user": "usr_1"}, "expand": ["payload", "scope"]})
    );
    assert_eq!(
        decode("expand[0]=payload&expand[1]=scope").unwrap(),
        json!({"expand": {"0": "payload", "1": "scope"}})
    );
}

#[test]
fn percent_and_plus_are_decoded_and_last_scalar_wins() {
    assert_eq!(
        decode("name=a%20b+c&name=%E2%9C%93&x%5By%5D=1").unwrap(),
        json!({"name": "✓", "x": {"y": "1"}})
    );
}

#[test]
fn scalar_and_hash_under_one_name_is_an_error() {
    let e = decode("scope=x&scope[type]=user").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("scope"));
    assert!(decode("scope[type]=user&scope=x").is_err());
    assert!(decode("expand[]=a&expand[0]=b").is_err());
}

#[test]
fn a_nested_conflict_names_where_it_is() {
    for (body, at) in [
        ("a[b]=1&a[b][c]=2", "a[b]"),
        ("a[b][c]=1&a[b]=2", "a[b]"),
        ("a[b][c]=1&a[b][c][]=2", "a[b][c]"),
        ("x=0&a[b][c]=1&a[b][c][d]=2", "a[b][c]"),
        ("a[b]=1&a[]=2", "a"),
    ] {
        let e = decode(body).unwrap_err();
        assert_eq!(e.param.as_deref(), Some(at), "{body}");
        assert!(
            e.message.contains(&format!("for {at}:")),
            "{body}: {}",
            e.message
        );
    }
}

#[test]
fn hostile_nesting_is_refused_not_recursed() {
    let key = format!("a{}", "[b]".repeat(100_000));
    let e = decode(&format!("{key}=1")).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("a"));
    assert!(decode(&format!("a{}=1", "[b]".repeat(16))).is_ok());
}

#[test]
fn invalid_utf8_is_a_clear_error() {
    let e = decode("name=%FF").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("name"));
    assert_eq!(
        e.message,
        "Invalid value for name: it is not UTF-8 once percent-decoded."
    );
}

#[test]
fn an_invalid_escape_is_a_400_naming_the_parameter() {
    let e = decode("name=%zz").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("name"));
    assert_eq!(
        e.message,
        "Invalid value for name: `%zz` is not a % followed by two hexadecimal digits."
    );
    assert!(decode("name=50%").is_err());
    assert!(decode("name=%+1").is_err());
    let key = decode("na%zzme=v").unwrap_err();
    assert_eq!(key.param, None);
    assert!(key
        .message
        .starts_with("Invalid parameter name na%zzme: `%zz`"));
    assert_eq!(decode("name=100%25").unwrap()["name"], "100%");
}

#[test]
fn array_of_hashes_groups_fields() {
    assert_eq!(
        decode("i[][a]=1&i[][b]=2&i[][a]=3").unwrap(),
        json!({"i": [{"a": "1", "b": "2"}, {"a": "3"}]})
    );
}

#[test]
fn coercion_follows_the_schema() {
    let schema = json!({
        "type": "object",
        "properties": {
            "limit": {"type": "integer"},
            "flag": {"type": "boolean"},
            "expand": {"type": "array", "items": {"type": "string"}},
            "at": {"type": ["integer", "null"]}
        }
    });
    let shape = Shape::compile(&schema, &schema);
    let mut v = json!({"limit": "5", "flag": "true", "expand": {"1": "b", "0": "a"}, "at": ""});
    let mut errors = Vec::new();
    coerce(&mut v, &shape, Shape::ROOT, "", &mut errors);
    assert!(errors.is_empty());
    assert_eq!(
        v,
        json!({"limit": 5, "flag": true, "expand": ["a", "b"], "at": null})
    );

    // A JSON body's `{}` where an array belongs stays a hash (and is
    // refused by the schema), never an empty array.
    let mut empty = json!({"expand": {}});
    coerce(&mut empty, &shape, Shape::ROOT, "", &mut errors);
    assert_eq!(empty, json!({"expand": {}}));

    let mut gap = json!({"expand": {"1": "b"}});
    coerce(&mut gap, &shape, Shape::ROOT, "", &mut errors);
    assert_eq!(
        errors.pop().unwrap().message,
        "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an \
         array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting \
         from 0. You passed the keys `1`, we expected to have a key with the value `0`."
    );
    let mut gap = json!({"expand": {"0": "a", "2": "c"}});
    coerce(&mut gap, &shape, Shape::ROOT, "", &mut errors);
    let e = errors.pop().unwrap();
    assert!(e
        .message
        .ends_with("You passed the keys `0, 2`, we expected to have a key with the value `1`."));
    assert_eq!(e.param.as_deref(), Some("expand"));

    let mut bad = json!({"limit": "abc"});
    coerce(&mut bad, &shape, Shape::ROOT, "", &mut errors);
    assert_eq!(errors[0].message, "Invalid integer: abc");
    assert_eq!(errors[0].param.as_deref(), Some("limit"));
    assert_eq!(errors[0].code, Some("parameter_invalid_integer"));
}

#[test]
fn coercion_leaves_what_needs_no_change() {
    let schema = json!({
        "type": "object",
        "properties": {
            "flag": {"type": "boolean"},
            "name": {"type": "string"},
            "at": {"type": ["integer", "null"]}
        }
    });
    let shape = Shape::compile(&schema, &schema);
    let mut v = json!({"flag": "false", "name": "", "at": "7"});
    let mut errors = Vec::new();
    coerce(&mut v, &shape, Shape::ROOT, "", &mut errors);
    assert!(errors.is_empty());
    // Only a nullable field's empty value unsets it.
    assert_eq!(v, json!({"flag": false, "name": "", "at": 7}));
}

#[test]
fn indexed_hashes_become_arrays_where_the_schema_has_one() {
    let schema = json!({
        "type": "object",
        "properties": {
            "expand": {"type": "array", "items": {"type": "string"}},
            "limit": {"type": "integer"},
            "opts": {"type": "object", "properties": {
                "tags": {"type": "array", "items": {"type": "string"}}
            }}
        }
    });
    let shape = Shape::compile(&schema, &schema);
    let mut v = json!({
        "expand": {"0": "a", "1": "b"},
        "opts": {"tags": {"0": "x"}},
        "limit": "5",
        "other": {"0": "z"}
    });
    shape_arrays(&mut v, &shape, Shape::ROOT);
    assert_eq!(
        v,
        json!({
            "expand": ["a", "b"],
            "opts": {"tags": ["x"]},
            "limit": "5",
            "other": {"0": "z"}
        })
    );
}

#[test]
fn brackets_are_escaped_unless_kept_readable() {
    assert_eq!(percent_encode("a[b] c~", false), "a%5Bb%5D%20c~");
    assert_eq!(percent_encode("a[b] c~", true), "a[b]%20c~");
}

#[test]
fn a_coercion_error_names_the_nested_place_of_its_value() {
    let schema = json!({
        "type": "object",
        "properties": {
            "obj": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "nums": {"type": "array", "items": {"type": "boolean"}}
        }
    });
    let shape = Shape::compile(&schema, &schema);
    let mut v = json!({"obj": {"n": "x"}, "nums": ["true", "y"]});
    let mut errors = Vec::new();
    coerce(&mut v, &shape, Shape::ROOT, "", &mut errors);
    let params: Vec<_> = errors.iter().map(|e| e.param.as_deref()).collect();
    assert_eq!(params, [Some("obj[n]"), Some("nums[1]")]);
    // Under a name given (a listing's parameters inside another).
    let mut v = json!({"obj": {"n": "x"}});
    let mut errors = Vec::new();
    coerce(&mut v, &shape, Shape::ROOT, "outer", &mut errors);
    assert_eq!(errors[0].param.as_deref(), Some("outer[obj][n]"));
}

#[test]
fn pairs_are_cut_at_each_ampersand_and_empty_ones_skipped() {
    fn cut(s: &str) -> Vec<&str> {
        pairs_of(s).collect()
    }
    assert_eq!(cut(""), Vec::<&str>::new());
    assert_eq!(cut("&&"), Vec::<&str>::new());
    assert_eq!(cut("a=1"), ["a=1"]);
    assert_eq!(cut("&a=1&&b&"), ["a=1", "b"]);
    assert_eq!(cut("é=ü&x=%26"), ["é=ü", "x=%26"]);
    // A pair without `=` is a name with an empty value; the first `=` cuts.
    assert_eq!(decode("b&c=x=y").unwrap(), json!({"b": "", "c": "x=y"}));
}
