//! The breaker's states and the table of legal transitions between them.

/// Where a circuit breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CircuitState {
    /// Calls flow; failures are counted in the window.
    Closed = 0,
    /// Calls are refused until the recovery timeout has passed.
    Open = 1,
    /// A budget of probe calls is admitted to test recovery.
    HalfOpen = 2,
    /// An operator took the dependency out of rotation.
    ForcedOpen = 3,
    /// An operator pinned the breaker closed; it never trips.
    ForcedClosed = 4,
}

impl CircuitState {
    /// Every state, in declaration order.
    pub const ALL: [CircuitState; 5] = [
        CircuitState::Closed,
        CircuitState::Open,
        CircuitState::HalfOpen,
        CircuitState::ForcedOpen,
        CircuitState::ForcedClosed,
    ];

    /// The public name of the state, as `baldur.circuit_state()` returns it.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
            CircuitState::ForcedOpen => "forced_open",
            CircuitState::ForcedClosed => "forced_closed",
        }
    }

    pub(crate) fn from_u8(raw: u8) -> CircuitState {
        match raw {
            0 => CircuitState::Closed,
            1 => CircuitState::Open,
            2 => CircuitState::HalfOpen,
            3 => CircuitState::ForcedOpen,
            _ => CircuitState::ForcedClosed,
        }
    }
}

/// Why a breaker changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Enough failures in the window, with the minimum-calls floor met.
    Trip,
    /// The recovery timeout of an open breaker has passed.
    RecoveryElapsed,
    /// Every probe of the half-open budget succeeded.
    ProbesSucceeded,
    /// A probe failed.
    ProbeFailed,
    /// An operator forced the breaker open.
    ForceOpen,
    /// An operator forced the breaker closed.
    ForceClose,
    /// An operator handed the breaker back to automatic control.
    Reset,
    /// The fleet's state, as the shared store decided it (never taken from
    /// the table: the store fences it by version instead).
    Synced,
}

impl Cause {
    /// The public name of the cause, as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Trip => "failure_threshold",
            Cause::RecoveryElapsed => "recovery_timeout_elapsed",
            Cause::ProbesSucceeded => "probes_succeeded",
            Cause::ProbeFailed => "probe_failed",
            Cause::ForceOpen => "forced_open",
            Cause::ForceClose => "forced_closed",
            Cause::Reset => "reset",
            Cause::Synced => "fleet_sync",
        }
    }
}

/// The state a `cause` moves `from` into, or `None` when the move is illegal.
///
/// Automatic causes only apply to the one state they were observed in, so a
/// late event (a trip racing an operator's force) is refused rather than
/// undoing a newer state. Operator causes apply from any state.
///
/// ```
/// use baldur::core::breaker::state::{next_state, Cause, CircuitState};
/// assert_eq!(next_state(CircuitState::Closed, Cause::Trip), Some(CircuitState::Open));
/// assert_eq!(next_state(CircuitState::ForcedOpen, Cause::RecoveryElapsed), None);
/// ```
pub fn next_state(from: CircuitState, cause: Cause) -> Option<CircuitState> {
    use CircuitState::*;
    match (from, cause) {
        (Closed, Cause::Trip) => Some(Open),
        (Open, Cause::RecoveryElapsed) => Some(HalfOpen),
        (HalfOpen, Cause::ProbesSucceeded) => Some(Closed),
        (HalfOpen, Cause::ProbeFailed) => Some(Open),
        (_, Cause::ForceOpen) => Some(ForcedOpen),
        (_, Cause::ForceClose) => Some(ForcedClosed),
        (_, Cause::Reset) => Some(Closed),
        _ => None,
    }
}
