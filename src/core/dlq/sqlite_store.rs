//! The SQLite queue as a [`DlqStore`]: its ids are row numbers, so an id of
//! any other shape (a Redis entry's) names nothing here.

use crate::core::dlq::entry::{Caps, Entry, Eviction, NewEntry};
use crate::core::dlq::listing::{ListQuery, Page};
use crate::core::dlq::sqlite::SqliteDlq;
use crate::core::dlq::store::{DlqError, DlqStore, Stats};

/// Ids that are not row numbers name nothing here.
fn row_id(id: &str) -> Option<i64> {
    id.parse().ok()
}

impl DlqStore for SqliteDlq {
    fn set_caps(&self, caps: Caps) {
        SqliteDlq::set_caps(self, caps);
    }

    fn record(&self, new: &NewEntry, replay_budget: u32) -> Result<(String, Eviction), DlqError> {
        SqliteDlq::record(self, new, replay_budget).map(|(id, eviction)| (id.to_string(), eviction))
    }

    fn get(&self, id: &str) -> Result<Option<Entry>, DlqError> {
        row_id(id).map_or(Ok(None), |id| SqliteDlq::get(self, id))
    }

    fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Page, DlqError> {
        match after.map(|id| row_id(id).ok_or(id)) {
            Some(Err(id)) => Err(DlqError::Store(format!("not a local entry id: {id:.40}"))),
            Some(Ok(row)) => SqliteDlq::page(self, query, Some(row), limit),
            None => SqliteDlq::page(self, query, None, limit),
        }
    }

    fn claim(&self, id: &str) -> Result<Option<Entry>, DlqError> {
        row_id(id).map_or(Ok(None), |id| SqliteDlq::claim(self, id))
    }

    fn succeeded(&self, id: &str) -> Result<(), DlqError> {
        row_id(id).map_or(Ok(()), |id| SqliteDlq::succeeded(self, id))
    }

    fn failed(&self, id: &str, error: &str) -> Result<String, DlqError> {
        match row_id(id) {
            Some(row) if SqliteDlq::get(self, row)?.is_some() => {
                SqliteDlq::failed(self, row, error)
            }
            _ => Ok("gone".to_owned()),
        }
    }

    fn review(&self, id: &str, error: &str) -> Result<String, DlqError> {
        match row_id(id) {
            Some(row) if SqliteDlq::get(self, row)?.is_some() => {
                SqliteDlq::review(self, row, error)
            }
            _ => Ok("gone".to_owned()),
        }
    }

    fn redrive(&self, id: &str, budget: u32) -> Result<bool, DlqError> {
        row_id(id).map_or(Ok(false), |id| SqliteDlq::redrive(self, id, budget))
    }

    fn purge(&self, zone: Option<&str>, state: Option<&str>) -> Result<u64, DlqError> {
        SqliteDlq::purge(self, zone, state)
    }

    fn stats(&self) -> Result<Stats, DlqError> {
        SqliteDlq::stats(self)
    }
}
