//! PyO3 glue: converts between the core and Python, nothing more.

mod admin;
mod async_call;
mod async_start;
mod attempt;
mod audit;
mod breakers;
mod bulkhead;
mod call;
mod control;
mod dead_letter;
mod dlq;
mod driver;
mod errors;
mod events;
mod gil;
mod idempotency;
mod leader;
mod metrics;
mod names;
mod notify;
mod outcome;
mod protected;
mod result;
mod runtime;
mod scheduler;
mod stores;
mod testing;
mod watchdog;
mod zone;

use pyo3::prelude::*;

/// The compiled half of `baldur`. Only `python/baldur/` imports it.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::init(m.py())?;
    events::install();
    // One definition of the codes the two sides exchange.
    // The one version: Cargo's (maturin gives the wheel the same one).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("VERDICT_NOT_A_FAILURE", zone::NOT_A_FAILURE)?;
    m.add("VERDICT_RETRYABLE", zone::RETRYABLE)?;
    m.add("VERDICT_FATAL", zone::FATAL)?;
    m.add("VERDICT_ABORT", zone::ABORT)?;
    m.add("STEP_RETRY", async_call::RETRY)?;
    m.add("STEP_PROPAGATE", async_call::PROPAGATE)?;
    m.add("STEP_GIVE_UP", async_call::GIVE_UP)?;
    names::register(m)?;
    leader::register(m)?;
    audit::register(m)?;
    notify::register(m)?;
    m.add_class::<zone::PyZone>()?;
    m.add_class::<protected::Protected>()?;
    m.add_class::<result::ProtectResult>()?;
    m.add_class::<async_call::AsyncCall>()?;
    m.add_class::<async_start::AsyncStart>()?;
    m.add_class::<bulkhead::CompartmentSnapshot>()?;
    m.add_class::<bulkhead::PermitTicket>()?;
    m.add_function(wrap_pyfunction!(bulkhead::register_compartment, m)?)?;
    m.add_function(wrap_pyfunction!(bulkhead::compartments, m)?)?;
    m.add_class::<idempotency::IdempotencySpec>()?;
    m.add_class::<idempotency::PendingClaim>()?;
    m.add_function(wrap_pyfunction!(idempotency::claim_for_async, m)?)?;
    m.add_function(wrap_pyfunction!(
        idempotency::set_idempotency_memory_ttl,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(async_call::refused_result, m)?)?;
    m.add_function(wrap_pyfunction!(call::protect, m)?)?;
    m.add_function(wrap_pyfunction!(call::protect_with_meta, m)?)?;
    m.add_function(wrap_pyfunction!(call::call_with_meta, m)?)?;
    m.add_function(wrap_pyfunction!(zone::set_default_timeout, m)?)?;
    m.add_function(wrap_pyfunction!(zone::set_retry_budget, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::configure_breakers, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::register_breaker, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::force_open, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::force_close, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::reset, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::circuit_state, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::fleet_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(breakers::snapshots, m)?)?;
    m.add_function(wrap_pyfunction!(events::set_transition_listener, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::shutdown_runtime, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::close_runtime, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_after_fork_in_parent, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_status, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_ping, m)?)?;
    m.add_function(wrap_pyfunction!(stores::redis_url_problem, m)?)?;
    m.add_function(wrap_pyfunction!(admin::admin_host_problem, m)?)?;
    m.add_function(wrap_pyfunction!(admin::admin_origin_problem, m)?)?;
    m.add_function(wrap_pyfunction!(admin::admin_start, m)?)?;
    m.add_function(wrap_pyfunction!(admin::admin_stop, m)?)?;
    m.add_function(wrap_pyfunction!(admin::admin_address, m)?)?;
    m.add_function(wrap_pyfunction!(scheduler::scheduler_add, m)?)?;
    m.add_function(wrap_pyfunction!(scheduler::scheduler_remove, m)?)?;
    m.add_function(wrap_pyfunction!(scheduler::scheduler_start, m)?)?;
    m.add_function(wrap_pyfunction!(scheduler::scheduler_close, m)?)?;
    m.add_function(wrap_pyfunction!(scheduler::scheduler_status, m)?)?;
    m.add_function(wrap_pyfunction!(watchdog::set_watchdog_missed_beats, m)?)?;
    m.add_function(wrap_pyfunction!(watchdog::watchdog_status, m)?)?;
    m.add_function(wrap_pyfunction!(watchdog::watchdog_watch, m)?)?;
    m.add_function(wrap_pyfunction!(watchdog::watchdog_beat, m)?)?;
    m.add_function(wrap_pyfunction!(watchdog::watchdog_forget, m)?)?;
    m.add_function(wrap_pyfunction!(stores::configure_stores, m)?)?;
    m.add_function(wrap_pyfunction!(stores::store_health, m)?)?;
    m.add_function(wrap_pyfunction!(dlq::dlq_store_health, m)?)?;
    m.add_function(wrap_pyfunction!(stores::flush_stores, m)?)?;
    m.add_function(wrap_pyfunction!(stores::wal_pending, m)?)?;
    m.add_function(wrap_pyfunction!(stores::first_sync, m)?)?;
    for function in [
        wrap_pyfunction!(metrics::metrics_snapshot, m)?,
        wrap_pyfunction!(metrics::record_request, m)?,
        wrap_pyfunction!(metrics::normalise_path, m)?,
        wrap_pyfunction!(metrics::configure_metrics, m)?,
        wrap_pyfunction!(control::kill_switch_enabled, m)?,
        wrap_pyfunction!(control::kill_switch_disable, m)?,
        wrap_pyfunction!(control::kill_switch_enable, m)?,
        wrap_pyfunction!(control::kill_switch_record, m)?,
        wrap_pyfunction!(control::kill_switch_remote_configured, m)?,
        wrap_pyfunction!(control::kill_switch_remote_load, m)?,
        wrap_pyfunction!(control::kill_switch_remote_save, m)?,
        wrap_pyfunction!(control::drain_start, m)?,
        wrap_pyfunction!(control::drain_progress, m)?,
        wrap_pyfunction!(control::is_draining, m)?,
        wrap_pyfunction!(control::drain_seconds_left, m)?,
        wrap_pyfunction!(control::drain_cancel, m)?,
    ] {
        m.add_function(function)?;
    }
    for function in [
        wrap_pyfunction!(dlq::configure_dlq, m)?,
        wrap_pyfunction!(dlq::dlq_record, m)?,
        wrap_pyfunction!(dlq::dlq_get, m)?,
        wrap_pyfunction!(dlq::dlq_list, m)?,
        wrap_pyfunction!(dlq::dlq_claim, m)?,
        wrap_pyfunction!(dlq::dlq_succeeded, m)?,
        wrap_pyfunction!(dlq::dlq_failed, m)?,
        wrap_pyfunction!(dlq::dlq_redrive, m)?,
        wrap_pyfunction!(dlq::dlq_purge, m)?,
        wrap_pyfunction!(dlq::dlq_stats, m)?,
        wrap_pyfunction!(dlq::dlq_flushed, m)?,
    ] {
        m.add_function(function)?;
    }
    // baldur.testing's functions, drills included.
    testing::register(m)?;
    Ok(())
}
