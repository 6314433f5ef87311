//! The one way the bindings let go of the GIL: around core work that may
//! block (a round trip to Redis, a disk write, waiting for a lock or a
//! thread that may itself need the GIL). Every such call goes through
//! here, so a reader can find each place Python keeps running beside Rust.

use pyo3::marker::Ungil;
use pyo3::prelude::*;

/// Runs `work` with the GIL released, and takes it back for the answer.
#[inline]
pub(crate) fn without_gil<T, F>(py: Python<'_>, work: F) -> T
where
    F: Ungil + FnOnce() -> T,
    T: Ungil,
{
    py.detach(work)
}
