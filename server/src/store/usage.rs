//! The usage ledger's rows: one per key and per process that signed with it.

use async_trait::async_trait;
use sqlx::{Row, any::AnyRow};

use super::{
    SqlStore, StoreError,
    database::{millis, optional_time},
};
use crate::domain::usage::UsageRow;

/// Storing the usage ledger.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Writes one process's row for one key, as it stands (the process is its only writer).
    async fn write_usage(&self, row: &UsageRow) -> Result<(), StoreError>;
    /// Writes the counts of a row that exists, never moving one backwards and leaving its
    /// reservation alone: safe to run beside a [`write_usage`](Self::write_usage) of the same
    /// row, so the counts are flushed without holding up signing.
    async fn write_counts(&self, row: &UsageRow) -> Result<(), StoreError>;
    /// [`write_counts`](Self::write_counts) for many rows (of any tenants), in one
    /// transaction: one commit a second for a process however many keys sign.
    async fn write_counts_together(&self, rows: &[UsageRow]) -> Result<(), StoreError>;
    /// Every process's rows for `kid`.
    async fn key_usage(&self, kid: &str) -> Result<Vec<UsageRow>, StoreError>;
    /// Every process's rows for the keys in `kids`.
    async fn keys_usage(&self, kids: &[String]) -> Result<Vec<UsageRow>, StoreError>;
}

const COLUMNS: &str = "kid, writer, tokens_signed, first_signed_at, last_signed_at, \
                       latest_expiry, reserved_until";

fn usage_from_row(row: &AnyRow) -> Result<UsageRow, StoreError> {
    let tokens: i64 = row.try_get("tokens_signed")?;
    Ok(UsageRow {
        kid: row.try_get("kid")?,
        writer: row.try_get("writer")?,
        tokens_signed: u64::try_from(tokens)
            .map_err(|_| StoreError::Corrupt(format!("tokens_signed {tokens}")))?,
        first_signed_at: optional_time(row.try_get("first_signed_at")?)?,
        last_signed_at: optional_time(row.try_get("last_signed_at")?)?,
        latest_expiry: row.try_get("latest_expiry")?,
        reserved_until: row.try_get("reserved_until")?,
    })
}

/// Moves a row's counts forward, never backwards, and leaves its reservation alone.
fn counts_query(row: &UsageRow) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    // CASE rather than GREATEST/max(): the same SQL on SQLite and PostgreSQL.
    sqlx::query(
        "UPDATE key_usage SET \
         tokens_signed = CASE WHEN tokens_signed > $1 THEN tokens_signed ELSE $1 END, \
         first_signed_at = COALESCE(first_signed_at, $2), \
         last_signed_at = CASE WHEN $3 IS NULL OR last_signed_at >= $3 \
             THEN last_signed_at ELSE $3 END, \
         latest_expiry = CASE WHEN $4 IS NULL OR latest_expiry >= $4 \
             THEN latest_expiry ELSE $4 END \
         WHERE kid = $5 AND writer = $6",
    )
    .bind(i64::try_from(row.tokens_signed).unwrap_or(i64::MAX))
    .bind(row.first_signed_at.map(millis))
    .bind(row.last_signed_at.map(millis))
    .bind(row.latest_expiry)
    .bind(&row.kid)
    .bind(&row.writer)
}

#[async_trait]
impl UsageStore for SqlStore {
    async fn write_usage(&self, row: &UsageRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO key_usage ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (kid, writer) DO UPDATE SET tokens_signed = excluded.tokens_signed, \
             first_signed_at = excluded.first_signed_at, last_signed_at = excluded.last_signed_at, \
             latest_expiry = excluded.latest_expiry, reserved_until = excluded.reserved_until"
        ))
        .bind(&row.kid)
        .bind(&row.writer)
        .bind(i64::try_from(row.tokens_signed).unwrap_or(i64::MAX))
        .bind(row.first_signed_at.map(millis))
        .bind(row.last_signed_at.map(millis))
        .bind(row.latest_expiry)
        .bind(row.reserved_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn write_counts(&self, row: &UsageRow) -> Result<(), StoreError> {
        counts_query(row).execute(&self.pool).await?;
        Ok(())
    }

    async fn write_counts_together(&self, rows: &[UsageRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for row in rows {
            counts_query(row).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn key_usage(&self, kid: &str) -> Result<Vec<UsageRow>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM key_usage WHERE kid = $1"))
            .bind(kid)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(usage_from_row)
            .collect()
    }

    async fn keys_usage(&self, kids: &[String]) -> Result<Vec<UsageRow>, StoreError> {
        if kids.is_empty() {
            return Ok(Vec::new());
        }
        // A short list (the keys a page shows): one placeholder per kid.
        let placeholders: Vec<String> = (1..=kids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM key_usage WHERE kid IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for kid in kids {
            query = query.bind(kid);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(usage_from_row)
            .collect()
    }
}
