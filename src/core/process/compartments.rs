//! `COMPARTMENTS`: the process's bulkhead compartments by name, one
//! capacity each for every sync and async callsite naming it.

use crate::core::bulkhead::Compartments;
use crate::core::clock::process_clock;
use std::sync::LazyLock;

/// The built-in compartments and those registered in code, on the
/// process's clock (a test may stop it and time waits out by hand).
pub static COMPARTMENTS: LazyLock<Compartments> =
    LazyLock::new(|| Compartments::with_built_ins(process_clock()));

/// In a forked child: the parent's permits and lines were its threads'.
pub(crate) fn after_fork() {
    COMPARTMENTS.after_fork();
}
