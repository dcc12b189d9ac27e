//! The statements of [`ApiKeyRepo`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{Columns, millis};
use crate::credentials::{Environment, Scopes};
use crate::ids::ProducerId;
use crate::repo::{ApiKeyRecord, ApiKeyRepo, KeyRate, RepoError};

/// The columns [`api_key`] reads, also the insertion order of `insert_api_key`.
macro_rules! api_key_columns {
    () => {
        "id, producer_id, name, environment, scopes, secret_hash, encryption, rate_per_sec, \
         rate_burst, created_at, expires_at, last_used_at, revoked_at"
    };
}

#[async_trait]
impl<D: Dialect> ApiKeyRepo for SqlRepository<D> {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), RepoError> {
        let rate = key.rate_limit;
        sql(concat!(
            "INSERT INTO api_keys (",
            api_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&key.id)
        .bind(key.producer_id.as_str())
        .bind(&key.name)
        .bind(key.environment.as_str())
        .bind(key.scopes.to_string())
        .bind(&key.secret_hash)
        .bind(i64::from(key.encryption))
        .bind(rate.map(|rate| i64::from(rate.per_second)))
        .bind(rate.map(|rate| i64::from(rate.burst)))
        .bind(millis(key.created_at))
        .bind(key.expires_at.map(millis))
        .bind(key.last_used_at.map(millis))
        .bind(key.revoked_at.map(millis))
        .execute(self.db())
        .await?;
        Ok(())
    }

    async fn api_keys_of(&self, producer: &ProducerId) -> Result<Vec<ApiKeyRecord>, RepoError> {
        sql(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE producer_id = $1 ORDER BY created_at, id"
        ))
        .bind(producer.as_str())
        .fetch_all(self.db())
        .await?
        .iter()
        .map(api_key)
        .collect()
    }

    async fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, RepoError> {
        sql(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db())
        .await?
        .map(|row| api_key(&row))
        .transpose()
    }

    async fn revoke_api_key(
        &self,
        producer: &ProducerId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, RepoError> {
        let row = sql("UPDATE api_keys SET revoked_at = $1 \
             WHERE producer_id = $2 AND name = $3 AND revoked_at IS NULL RETURNING id")
        .bind(millis(now))
        .bind(producer.as_str())
        .bind(name)
        .fetch_optional(self.db())
        .await?;
        row.map(|row| row.text("id")).transpose()
    }

    async fn touch_api_key(
        &self,
        id: &str,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let done = sql("UPDATE api_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(millis(now))
        .bind(id)
        .bind(millis(not_before))
        .execute(self.db())
        .await?;
        Ok(done > 0)
    }
}

/// An `api_keys` row; a malformed scope, environment or rate is [`RepoError::Corrupt`].
fn api_key(row: &impl Columns) -> Result<ApiKeyRecord, RepoError> {
    let corrupt = |column: &str| RepoError::Corrupt(format!("api_keys.{column}"));
    let environment: Environment = row
        .text("environment")?
        .parse()
        .map_err(|_| corrupt("environment"))?;
    let scopes: Scopes = row.text("scopes")?.parse().map_err(|_| corrupt("scopes"))?;
    let rate = match (row.opt_int("rate_per_sec")?, row.opt_int("rate_burst")?) {
        (Some(per_second), Some(burst)) => Some(KeyRate {
            per_second: u32::try_from(per_second).map_err(|_| corrupt("rate_per_sec"))?,
            burst: u32::try_from(burst).map_err(|_| corrupt("rate_burst"))?,
        }),
        (None, None) => None,
        _ => return Err(corrupt("rate_per_sec")),
    };
    Ok(ApiKeyRecord {
        id: row.text("id")?,
        producer_id: row.id("producer_id")?,
        name: row.text("name")?,
        environment,
        scopes,
        secret_hash: row.text("secret_hash")?,
        encryption: row.int("encryption")? != 0,
        rate_limit: rate,
        created_at: row.time("created_at")?,
        expires_at: row.opt_time("expires_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}
