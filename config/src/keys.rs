//! The key names a section reads, asked of its `Deserialize` implementation itself (so a renamed
//! field can never drift from the list of known keys).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Carries the field list out of `deserialize_struct`.
#[derive(Debug)]
enum Probe {
    Fields(&'static [&'static str]),
    Other,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field-name probe")
    }
}

impl std::error::Error for Probe {}

impl de::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe::Other
    }
}

struct Prober;

impl<'de> Deserializer<'de> for Prober {
    type Error = Probe;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probe> {
        Err(Probe::Other)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probe> {
        Err(Probe::Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The keys a plain (non-flattened) struct section deserializes; empty for anything else.
pub(crate) fn of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(Prober) {
        Err(Probe::Fields(fields)) => fields,
        _ => &[],
    }
}
