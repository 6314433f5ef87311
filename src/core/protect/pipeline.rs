//! The order of a protected call, written once: claim, admit, take a
//! bulkhead permit, attempts, settle the claim, record the dead letter, let the fallback answer,
//! finish. Sans-I/O: the pipeline says which step comes next and the
//! driver (sync in the bindings, async on the event loop) performs it and
//! reports back. Neither driver decides the order; both step this.
//!
//! ```
//! use baldur::core::protect::pipeline::{Ending, Pipeline, Protections, Step};
//! let mut call = Pipeline::new(Protections { idempotency: true, dlq: true, fallback: true, bulkhead: false });
//! assert_eq!(call.step(), Step::Claim);
//! call.claimed(true);
//! assert_eq!(call.step(), Step::Admit);
//! call.admitted();
//! assert_eq!(call.step(), Step::Attempts);
//! call.ended(Ending::GaveUp);
//! assert_eq!(call.step(), Step::ReleaseClaim);
//! call.done();
//! assert_eq!(call.step(), Step::RecordDeadLetter);
//! call.recorded(true);
//! assert_eq!(call.step(), Step::Fallback);
//! call.done();
//! assert_eq!(call.step(), Step::Finish);
//! ```

/// What the driver does next. Declared in the order a call takes them
/// ([`ORDER`]); a step that does not apply to the call is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    /// Take the idempotency claim. Refused (a duplicate, no key): the call
    /// is over before the breaker hears of it.
    Claim = 0,
    /// Ask the breaker, once. Refused: no attempt, no retry, no fallback.
    Admit = 1,
    // A rate limit's token comes here, between the breaker and the
    // bulkhead (CONTRACT: claim, breaker, rate limit, bulkhead, attempts),
    // shed the same way as a full compartment.
    /// Take a permit of the zone's compartment (`bulkhead=`), held through
    /// the attempts. Full: the call is shed ([`Ending::Shed`]).
    Permit = 2,
    /// The attempts under the retry policy, bounded by the timeout (the
    /// per-call state machine of [`super::Zone`]).
    Attempts = 3,
    /// The function returned: duplicates are refused from now on.
    CompleteClaim = 4,
    /// Any other end: a later call with the key may run.
    ReleaseClaim = 5,
    /// Record the call durably (`dlq=True`): a rejection, or a give-up even
    /// when a fallback will answer. A queue that refuses the record
    /// (`reject`, full) ends the call with that refusal.
    RecordDeadLetter = 6,
    /// The call gave up, or was shed: the fallback answers.
    Fallback = 7,
    /// The caller gets the answer, or the error.
    Finish = 8,
}

impl Step {
    /// This step as one bit of a set of steps.
    const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// A set of steps, one bit each.
const fn steps(all: &[Step]) -> u16 {
    let mut set = 0;
    let mut i = 0;
    while i < all.len() {
        set |= all[i].bit();
        i += 1;
    }
    set
}

/// What may follow each way a call's own part ends (or, `None`, what may
/// come before it ends).
const BEFORE_THE_END: u16 = steps(&[Step::Claim, Step::Admit, Step::Permit, Step::Attempts]);
const AFTER_RETURNED: u16 = steps(&[Step::CompleteClaim, Step::Finish]);
const AFTER_REJECTED: u16 = steps(&[Step::ReleaseClaim, Step::RecordDeadLetter, Step::Finish]);
const AFTER_PROPAGATED: u16 = steps(&[Step::ReleaseClaim, Step::Finish]);
// Shed is not the dependency's failure: nothing to record, but the
// fallback may answer.
const AFTER_SHED: u16 = steps(&[Step::ReleaseClaim, Step::Fallback, Step::Finish]);
const AFTER_GAVE_UP: u16 = steps(&[
    Step::ReleaseClaim,
    Step::RecordDeadLetter,
    Step::Fallback,
    Step::Finish,
]);
const SETTLING: u16 = steps(&[Step::CompleteClaim, Step::ReleaseClaim]);

/// Every step, in the one order a call takes them; a step that does not
/// apply to this call is skipped.
const ORDER: [Step; 9] = [
    Step::Claim,
    Step::Admit,
    Step::Permit,
    Step::Attempts,
    Step::CompleteClaim,
    Step::ReleaseClaim,
    Step::RecordDeadLetter,
    Step::Fallback,
    Step::Finish,
];

/// How the call's own part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// An attempt returned.
    Returned,
    /// The breaker refused the call; nothing ran.
    Rejected,
    /// Admitted by the breaker, then turned away by admission control (a
    /// full compartment): nothing ran, and the dependency is not to blame.
    Shed,
    /// An error that is not the dependency's failure, or a refusal (a
    /// duplicate, a full dead-letter queue): raised as is.
    Propagated,
    /// No attempt succeeded (exhausted, the breaker opened, timed out).
    GaveUp,
}

/// What the zone asks for beyond the breaker and retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Protections {
    /// The zone has an idempotency key.
    pub idempotency: bool,
    /// `dlq=True`.
    pub dlq: bool,
    /// The zone has a fallback.
    pub fallback: bool,
    /// The zone names a compartment (`bulkhead=`).
    pub bulkhead: bool,
}

/// One call's way through the order.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The steps this zone's protections make possible at all.
    possible: u16,
    next: Step,
    ending: Option<Ending>,
    claim_held: bool,
}

impl Pipeline {
    /// A call about to start: its first step is the claim, or admission.
    #[inline]
    pub fn new(protections: Protections) -> Self {
        let mut possible = steps(&[Step::Admit, Step::Attempts, Step::Finish]);
        if protections.idempotency {
            possible |= Step::Claim.bit() | SETTLING;
        }
        if protections.dlq {
            possible |= Step::RecordDeadLetter.bit();
        }
        if protections.fallback {
            possible |= Step::Fallback.bit();
        }
        if protections.bulkhead {
            possible |= Step::Permit.bit();
        }
        let mut call = Self {
            possible,
            next: Step::Claim,
            ending: None,
            claim_held: false,
        };
        if possible & Step::Claim.bit() == 0 {
            call.advance();
        }
        call
    }

    /// The step to perform now.
    #[inline]
    pub fn step(&self) -> Step {
        self.next
    }

    /// How the call's own part ended, once it has.
    #[inline]
    pub fn ending(&self) -> Option<Ending> {
        self.ending
    }

    /// The claim step is done: `held` when a claim is held (a fail-open
    /// store that could not be reached leaves none to settle).
    #[inline]
    pub fn claimed(&mut self, held: bool) {
        self.claim_held = held;
        self.advance();
    }

    /// The claim was refused: the call ends with that error.
    #[inline]
    pub fn claim_refused(&mut self) {
        self.ended(Ending::Propagated);
    }

    /// The breaker admitted the call.
    #[inline]
    pub fn admitted(&mut self) {
        self.advance();
    }

    /// The compartment gave the call a permit.
    #[inline]
    pub fn permitted(&mut self) {
        self.advance();
    }

    /// The call's own part is over (or, `Rejected`, never began).
    #[inline]
    pub fn ended(&mut self, ending: Ending) {
        self.ending = Some(ending);
        self.advance();
    }

    /// The dead-letter step is done: `accepted` unless the queue refused
    /// the record, which then ends the call (no fallback answers it).
    #[inline]
    pub fn recorded(&mut self, accepted: bool) {
        if !accepted {
            self.ending = Some(Ending::Propagated);
        }
        self.advance();
    }

    /// The current step is done (settling the claim, the fallback).
    #[inline]
    pub fn done(&mut self) {
        if matches!(self.next, Step::CompleteClaim | Step::ReleaseClaim) {
            self.claim_held = false;
        }
        self.advance();
    }

    /// The steps that may still come, given how the call ended and
    /// whether a claim is held.
    #[inline]
    fn open(&self) -> u16 {
        let after = match self.ending {
            None => BEFORE_THE_END,
            Some(Ending::Returned) => AFTER_RETURNED,
            Some(Ending::Rejected) => AFTER_REJECTED,
            Some(Ending::Shed) => AFTER_SHED,
            Some(Ending::Propagated) => AFTER_PROPAGATED,
            Some(Ending::GaveUp) => AFTER_GAVE_UP,
        };
        let settling = if self.claim_held { SETTLING } else { 0 };
        self.possible & (after & !SETTLING | after & settling)
    }

    /// On to the first later step that applies to this call: the lowest
    /// open step after this one ([`Step::Finish`] always is).
    #[inline]
    fn advance(&mut self) {
        let later = u32::from(self.open()) & !((2u32 << self.next as u8) - 1);
        self.next = ORDER[(later.trailing_zeros() as usize).min(ORDER.len() - 1)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Protections = Protections {
        idempotency: true,
        dlq: true,
        fallback: true,
        bulkhead: false,
    };

    const BULKHEADED: Protections = Protections {
        bulkhead: true,
        ..ALL
    };

    /// Drives a call to its end, answering each step as `script` says, and
    /// returns the steps taken.
    fn walk(protections: Protections, mut answer: impl FnMut(Step, &mut Pipeline)) -> Vec<Step> {
        let mut call = Pipeline::new(protections);
        let mut taken = vec![];
        while call.step() != Step::Finish {
            taken.push(call.step());
            let step = call.step();
            answer(step, &mut call);
            assert!(taken.len() < 10, "the call never ends: {taken:?}");
        }
        taken.push(Step::Finish);
        taken
    }

    fn succeeding(step: Step, call: &mut Pipeline) {
        match step {
            Step::Claim => call.claimed(true),
            Step::Admit => call.admitted(),
            Step::Attempts => call.ended(Ending::Returned),
            _ => call.done(),
        }
    }

    #[test]
    fn the_order_is_the_steps_declaration_order() {
        for (index, step) in ORDER.iter().enumerate() {
            assert_eq!(*step as usize, index);
        }
    }

    #[test]
    fn a_plain_call_is_admitted_attempted_and_finished() {
        let taken = walk(Protections::default(), succeeding);
        assert_eq!(taken, [Step::Admit, Step::Attempts, Step::Finish]);
    }

    #[test]
    fn a_successful_idempotent_call_completes_its_claim_and_records_nothing() {
        let taken = walk(ALL, succeeding);
        assert_eq!(
            taken,
            [
                Step::Claim,
                Step::Admit,
                Step::Attempts,
                Step::CompleteClaim,
                Step::Finish
            ]
        );
    }

    #[test]
    fn a_call_that_gives_up_releases_records_then_falls_back() {
        let taken = walk(ALL, |step, call| match step {
            Step::Attempts => call.ended(Ending::GaveUp),
            Step::RecordDeadLetter => call.recorded(true),
            other => succeeding(other, call),
        });
        assert_eq!(
            taken,
            [
                Step::Claim,
                Step::Admit,
                Step::Attempts,
                Step::ReleaseClaim,
                Step::RecordDeadLetter,
                Step::Fallback,
                Step::Finish
            ]
        );
    }

    #[test]
    fn a_refused_record_ends_the_call_before_the_fallback() {
        let mut call = Pipeline::new(ALL);
        call.claimed(true);
        call.admitted();
        call.ended(Ending::GaveUp);
        call.done();
        assert_eq!(call.step(), Step::RecordDeadLetter);
        call.recorded(false);
        assert_eq!(call.step(), Step::Finish);
        assert_eq!(call.ending(), Some(Ending::Propagated));
    }

    #[test]
    fn a_rejection_skips_attempts_and_fallback_but_is_recorded() {
        let taken = walk(ALL, |step, call| match step {
            Step::Admit => call.ended(Ending::Rejected),
            Step::RecordDeadLetter => call.recorded(true),
            other => succeeding(other, call),
        });
        assert_eq!(
            taken,
            [
                Step::Claim,
                Step::Admit,
                Step::ReleaseClaim,
                Step::RecordDeadLetter,
                Step::Finish
            ]
        );
    }

    #[test]
    fn a_refused_claim_never_reaches_the_breaker_nor_the_queue() {
        let taken = walk(ALL, |step, call| match step {
            Step::Claim => call.claim_refused(),
            other => succeeding(other, call),
        });
        assert_eq!(taken, [Step::Claim, Step::Finish]);
    }

    #[test]
    fn an_error_that_is_no_failure_propagates_without_record_or_fallback() {
        let taken = walk(ALL, |step, call| match step {
            Step::Attempts => call.ended(Ending::Propagated),
            other => succeeding(other, call),
        });
        assert_eq!(
            taken,
            [
                Step::Claim,
                Step::Admit,
                Step::Attempts,
                Step::ReleaseClaim,
                Step::Finish
            ]
        );
    }

    #[test]
    fn a_fail_open_claim_leaves_nothing_to_settle() {
        let taken = walk(ALL, |step, call| match step {
            Step::Claim => call.claimed(false),
            Step::Attempts => call.ended(Ending::GaveUp),
            Step::RecordDeadLetter => call.recorded(true),
            other => succeeding(other, call),
        });
        assert!(!taken.contains(&Step::ReleaseClaim));
        assert!(taken.contains(&Step::Fallback));
    }

    #[test]
    fn a_permit_is_taken_after_admission_and_before_the_attempts() {
        let taken = walk(BULKHEADED, |step, call| match step {
            Step::Permit => call.permitted(),
            other => succeeding(other, call),
        });
        assert_eq!(
            taken,
            [
                Step::Claim,
                Step::Admit,
                Step::Permit,
                Step::Attempts,
                Step::CompleteClaim,
                Step::Finish
            ]
        );
    }

    #[test]
    fn a_shed_call_releases_its_claim_is_not_recorded_and_may_fall_back() {
        let taken = walk(BULKHEADED, |step, call| match step {
            Step::Permit => call.ended(Ending::Shed),
            other => succeeding(other, call),
        });
        assert_eq!(
            taken,
            [
                Step::Claim,
                Step::Admit,
                Step::Permit,
                Step::ReleaseClaim,
                Step::Fallback,
                Step::Finish
            ]
        );
    }

    #[test]
    fn a_zone_without_a_compartment_never_takes_a_permit() {
        let taken = walk(ALL, succeeding);
        assert!(!taken.contains(&Step::Permit));
    }
}
