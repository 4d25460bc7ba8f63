//! What the rules' verdict reads a value through: a `serde_json::Value`
//! (a request's parameters, a control answer, an error) or a tree the mock
//! built ([`Json`]: a secret's answer), each as it is, with no copy made.
//! The failures of a value found invalid are collected from a `Value`
//! (the rare path), so that walk is written once.

use std::borrow::Cow;

use serde_json::{Number, Value};

use super::{same, Ty};
use crate::body::Json;

/// A value's kind and, for a string, a number or an array, its contents.
pub(crate) enum Parts<'a, I> {
    Null,
    Bool,
    Number(&'a Number),
    String(&'a str),
    Array(&'a [I]),
    Object,
}

/// A JSON value the rules can check.
pub(crate) trait Instance: Sized {
    fn parts(&self) -> Parts<'_, Self>;

    /// Whether `f` holds for every field, in order (true for a value that
    /// is not an object).
    fn all_fields(&self, f: impl FnMut(&str, &Self) -> bool) -> bool;

    /// Whether an object has the field `name`.
    fn has_field(&self, name: &str) -> bool;

    /// Whether it is `option`, as `enum` compares (numbers by value).
    fn is(&self, option: &Value) -> bool;

    /// It as a `serde_json::Value`, for what reads only that (collecting
    /// failures, the `jsonschema` library).
    fn value(&self) -> Cow<'_, Value>;

    /// The bits of the types it is of ([`Ty::bit`]): an integer is a
    /// number too.
    fn bits(&self) -> u8 {
        match self.parts() {
            Parts::Null => Ty::Null.bit(),
            Parts::Bool => Ty::Boolean.bit(),
            Parts::Number(n) if n.is_i64() || n.is_u64() => Ty::Integer.bit() | Ty::Number.bit(),
            Parts::Number(_) => Ty::Number.bit(),
            Parts::String(_) => Ty::String.bit(),
            Parts::Array(_) => Ty::Array.bit(),
            Parts::Object => Ty::Object.bit(),
        }
    }
}

impl Instance for Value {
    fn parts(&self) -> Parts<'_, Value> {
        match self {
            Value::Null => Parts::Null,
            Value::Bool(_) => Parts::Bool,
            Value::Number(n) => Parts::Number(n),
            Value::String(s) => Parts::String(s),
            Value::Array(items) => Parts::Array(items),
            Value::Object(_) => Parts::Object,
        }
    }

    fn all_fields(&self, mut f: impl FnMut(&str, &Value) -> bool) -> bool {
        match self {
            Value::Object(fields) => fields.iter().all(|(k, v)| f(k, v)),
            _ => true,
        }
    }

    fn has_field(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn is(&self, option: &Value) -> bool {
        match self {
            Value::String(text) => option.as_str() == Some(text),
            _ => same(option, self),
        }
    }

    fn value(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }
}

impl Instance for Json {
    fn parts(&self) -> Parts<'_, Json> {
        match self {
            Json::Null => Parts::Null,
            Json::Bool(_) => Parts::Bool,
            Json::Number(n) => Parts::Number(n),
            Json::String(s) => Parts::String(s),
            Json::Static(s) => Parts::String(s),
            Json::Array(items) => Parts::Array(items),
            Json::Object(_) => Parts::Object,
        }
    }

    fn all_fields(&self, mut f: impl FnMut(&str, &Json) -> bool) -> bool {
        match self {
            Json::Object(fields) => fields.iter().all(|(k, v)| f(k, v)),
            _ => true,
        }
    }

    fn has_field(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn is(&self, option: &Value) -> bool {
        match self {
            Json::Null => option.is_null(),
            Json::Bool(b) => option.as_bool() == Some(*b),
            Json::String(_) | Json::Static(_) => option.as_str() == self.as_str(),
            Json::Number(_) | Json::Array(_) | Json::Object(_) => same(option, &self.to_value()),
        }
    }

    fn value(&self) -> Cow<'_, Value> {
        Cow::Owned(self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_tree_is_an_enum_option_exactly_when_its_value_is() {
        let options = [json!(true), json!(false), json!(null), json!("a"), json!(1)];
        let trees = [
            Json::Bool(true),
            Json::Bool(false),
            Json::Null,
            Json::Static("a"),
            Json::String("b".into()),
            Json::from(1),
        ];
        for tree in &trees {
            for option in &options {
                assert_eq!(
                    tree.is(option),
                    tree.to_value().is(option),
                    "{tree:?} {option}"
                );
            }
        }
        assert!(Json::Bool(false).is(&json!(false)) && !Json::Bool(false).is(&json!(true)));
    }
}
