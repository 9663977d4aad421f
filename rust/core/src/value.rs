//! A Godot-free mirror of the Variant shapes users put in config and option dictionaries.
//!
//! The binding converts a `Dictionary` into a [`Value`] tree once; every rule about what a key
//! may hold then lives in the core, where `cargo test` can reach it.

/// One dictionary value, reduced to the shapes the plugin understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `String` and `StringName` alike.
    Str(String),
    /// `Array` and the packed string array.
    Array(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// Any other Variant type, by its Godot type name (for error messages).
    Other(String),
}

impl Value {
    /// The Godot type name, for "expected X, got Y" messages.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Nil => "null",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Float(_) => "float",
            Self::Str(_) => "String",
            Self::Array(_) => "Array",
            Self::Dict(_) => "Dictionary",
            Self::Other(name) => name,
        }
    }
}

/// An integer, or a float with no fractional part: dictionaries parsed from JSON hold every
/// number as a float, so `1024.0` must count as the int it was written as.
pub(crate) fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => Some(*f as i64),
        _ => None,
    }
}

/// Iterates a dictionary's entries with string keys; a non-string key is an error.
pub(crate) fn entries<'a>(
    dict: &'a [(Value, Value)],
    what: &'a str,
) -> impl Iterator<Item = Result<(&'a str, &'a Value), String>> + 'a {
    dict.iter().map(move |(key, value)| match key {
        Value::Str(key) => Ok((key.as_str(), value)),
        other => Err(format!(
            "{what} keys must be Strings, got a key of type {}",
            other.type_name()
        )),
    })
}
