//! The canonical JSON a record's hash is taken over, byte for byte what
//! Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))`
//! writes: an auditor re-computes a hash with the standard library alone,
//! no Baldur installed. So: keys sorted by code point, no spaces, every
//! character outside printable ASCII escaped as `\uXXXX` (lowercase hex,
//! surrogate pairs above the BMP), and floats as Python's `repr` spells
//! them (`5.0`, `1e-05`, `1.5e+16`).

use serde_json::Value;
use std::fmt::Write;

/// `value` as canonical JSON. A non-finite float (which JSON cannot hold;
/// `serde_json` never makes one) is written as Python writes it, `NaN` or
/// `Infinity`, so the hash still matches.
pub fn canonical(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) => write_float(out, f),
            (None, None, None) => out.push_str("null"),
        },
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, &map[key]);
            }
            out.push('}');
        }
    }
}

/// A float as Python's `repr`: the shortest digits that read back the same,
/// positional from 1e-4 up to 1e16, scientific outside (`e-05`, `e+16`),
/// and always with a `.0` when positional and whole.
pub fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        // Rust writes `1.5e16` / `1e-5`: Python signs the exponent and
        // gives it two digits at least.
        let scientific = format!("{value:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ('-', digits),
            None => ('+', exponent),
        };
        let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
        return;
    }
    let start = out.len();
    let _ = write!(out, "{value}");
    if !out[start..].contains('.') {
        out.push_str(".0");
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_sorted_and_spaceless_at_every_depth() {
        let value = json!({"b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "c": false}});
        assert_eq!(
            canonical(&value),
            r#"{"a":{"c":false,"z":[1,2,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn text_is_escaped_as_pythons_ensure_ascii() {
        // json.dumps("é\"\\\n\t\x01\x7f😀", sort_keys=True, separators=(",", ":"))
        let value = json!("é\"\\\n\t\u{1}\u{7f}😀 ~");
        assert_eq!(
            canonical(&value),
            r#""\u00e9\"\\\n\t\u0001\u007f\ud83d\ude00 ~""#
        );
    }

    #[test]
    fn floats_read_as_pythons_repr() {
        let cases = [
            (5.0, "5.0"),
            (0.0, "0.0"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (1_733_300_000.123, "1733300000.123"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e16, "1.5e+16"),
            (1e16, "1e+16"),
            (9_999_999_999_999_998.0, "9999999999999998.0"),
            (1.2345e-300, "1.2345e-300"),
            (1e300, "1e+300"),
        ];
        for (value, python) in cases {
            let mut out = String::new();
            write_float(&mut out, value);
            assert_eq!(out, python, "repr({value:e})");
        }
    }

    #[test]
    fn integers_are_written_whole() {
        assert_eq!(
            canonical(&json!([-7, 0, u64::MAX])),
            "[-7,0,18446744073709551615]"
        );
    }
}
