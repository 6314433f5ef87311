//! Baldur: a reliability layer for Python services, with its core in Rust.
//!
//! [`core`] holds the product's logic and never touches Python. The `py`
//! module (feature `python`, turned on by maturin) only converts types and
//! errors between that core and the `baldur` Python package.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod core;

#[cfg(feature = "python")]
mod py;
