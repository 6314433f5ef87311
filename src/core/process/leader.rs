//! Leader election as a process service: whether this process leads the
//! fleet. Without Redis every process leads itself.

/// Whether this process leads the fleet now (a leader that cannot renew in
/// time answers `false` before its lease can end).
pub fn is_leader() -> bool {
    true
}
