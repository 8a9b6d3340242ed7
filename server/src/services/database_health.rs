//! Whether the last look at the database found it reachable. While it is down, changes fail at
//! once instead of each waiting for a connection, and clients are taken from memory.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use super::ServiceError;
use crate::store::StoreError;

/// Shared by every service on one database; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct DatabaseHealth {
    down: Arc<AtomicBool>,
}

impl DatabaseHealth {
    /// Remembers what a call to the database found.
    pub fn note<T>(&self, result: &Result<T, ServiceError>) {
        self.down.store(
            matches!(result, Err(e) if e.is_unavailable()),
            Ordering::Relaxed,
        );
    }

    /// Whether the last look found the database unreachable.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Fails at once while the last look found the database unreachable.
    pub fn ensure_up(&self) -> Result<(), ServiceError> {
        if self.is_down() {
            return Err(StoreError::Unavailable(
                "the database did not answer the last check".into(),
            )
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_fails_changes_until_it_answers() {
        let health = DatabaseHealth::default();
        assert!(health.ensure_up().is_ok());
        health.note::<()>(&Err(StoreError::Unavailable("down".into()).into()));
        assert!(
            health.clone().ensure_up().is_err(),
            "clones share the state"
        );
        health.note::<()>(&Err(StoreError::Conflict.into()));
        assert!(!health.is_down(), "other failures say it answered");
        health.note(&Ok(()));
        assert!(health.ensure_up().is_ok());
    }
}
