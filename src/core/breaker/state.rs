//! The breaker's states and the table of legal transitions between them.

pub use crate::core::names::CircuitState;

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

/// An operator's actions and the verb each is recorded under (the fleet's
/// log of operator actions, `baldur cb force-open`): the verb names the
/// action taken, while the cause as logged (`forced_open`) names the state
/// entered. One table, so the two spellings cannot drift apart.
pub const OPERATOR_ACTIONS: [(Cause, &str); 3] = [
    (Cause::ForceOpen, "force_open"),
    (Cause::ForceClose, "force_close"),
    (Cause::Reset, "reset"),
];

impl Cause {
    /// Every cause, in declaration order.
    pub const ALL: [Cause; 8] = [
        Cause::Trip,
        Cause::RecoveryElapsed,
        Cause::ProbesSucceeded,
        Cause::ProbeFailed,
        Cause::ForceOpen,
        Cause::ForceClose,
        Cause::Reset,
        Cause::Synced,
    ];

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
