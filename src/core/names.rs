//! The names every layer shares (the breaker's states): a base module, so a
//! feature that reports them (metrics) need not import the feature that
//! owns them (the breaker).

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
