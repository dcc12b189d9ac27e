//! The statements of [`ProducerKeyRepo`]: a producer's public keys (`producer_keys`) and the
//! assertion ids already used (`used_assertions`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, Columns, millis};
use crate::ids::ProducerId;
use crate::model::Producer;
use crate::repo::{
    KeyRemoval, MAX_KEYS_PER_PRODUCER, ProducerKey, ProducerKeyRepo, ProducerRepo as _, RepoError,
};

/// Inserts a [`ProducerKey`], bound by [`insert_key`] (also run by `insert_producer`).
const INSERT_KEY: &str =
    "INSERT INTO producer_keys (id, producer_id, public_key, created_at) VALUES ($1, $2, $3, $4)";

/// The insertion of `key`, to run on the pool or in a transaction.
pub(super) fn insert_key<D: Dialect>(key: &ProducerKey) -> super::query::Sql<D> {
    sql(INSERT_KEY)
        .bind(key.id.as_str())
        .bind(key.producer_id.as_str())
        .bind(&key.public_key)
        .bind(millis(key.created_at))
}

/// Locks the producer's row (a no-op update) for the rest of the transaction, so that two
/// changes of its keys that each count them (two removals of its last two keys, two additions
/// at the limit) run one after the other; SQLite's write transaction already holds the whole
/// database.
fn lock_producer<D: Dialect>(producer: &ProducerId) -> super::query::Sql<D> {
    sql("UPDATE producers SET name = name WHERE id = $1").bind(producer.as_str())
}

/// A `producer_keys` row read with the column names `id`, `producer_id`, `public_key`,
/// `created_at`, each after `prefix`.
fn key_row(row: &impl Columns, prefix: &str) -> Result<ProducerKey, RepoError> {
    Ok(ProducerKey {
        id: row.text(&format!("{prefix}id"))?,
        producer_id: row.id(&format!("{prefix}producer_id"))?,
        public_key: row.bytes(&format!("{prefix}public_key"))?,
        created_at: row.time(&format!("{prefix}created_at"))?,
    })
}

#[async_trait]
impl<D: Dialect> ProducerKeyRepo for SqlRepository<D> {
    async fn producer_keys(&self, producer: &ProducerId) -> Result<Vec<ProducerKey>, RepoError> {
        sql(
            "SELECT id, producer_id, public_key, created_at FROM producer_keys \
             WHERE producer_id = $1 ORDER BY created_at, id",
        )
        .bind(producer.as_str())
        .fetch_all(self.db())
        .await?
        .iter()
        .map(|row| key_row(row, ""))
        .collect()
    }

    async fn add_producer_key(&self, key: &ProducerKey) -> Result<bool, RepoError> {
        let mut tx = D::begin_write(&self.pool).await?;
        lock_producer::<D>(&key.producer_id)
            .execute(D::on_conn(&mut tx))
            .await?;
        let held = sql("SELECT COUNT(*) AS n FROM producer_keys WHERE producer_id = $1")
            .bind(key.producer_id.as_str())
            .fetch_one(D::on_conn(&mut tx))
            .await?
            .int("n")?;
        if held >= MAX_KEYS_PER_PRODUCER {
            return Ok(false);
        }
        insert_key::<D>(key).execute(D::on_conn(&mut tx)).await?;
        tx.commit().await.map_err(codec::db_error)?;
        Ok(true)
    }

    async fn remove_producer_key(
        &self,
        producer: &ProducerId,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyRemoval, RepoError> {
        let mut tx = D::begin_write(&self.pool).await?;
        lock_producer::<D>(producer)
            .execute(D::on_conn(&mut tx))
            .await?;
        let count = sql("SELECT COUNT(*) AS n, \
                 SUM(CASE WHEN id = $2 THEN 1 ELSE 0 END) AS mine \
                 FROM producer_keys WHERE producer_id = $1")
        .bind(producer.as_str())
        .bind(key_id)
        .fetch_one(D::on_conn(&mut tx))
        .await?;
        if count.opt_int("mine")?.unwrap_or(0) == 0 {
            return Ok(KeyRemoval::Unknown);
        }
        if count.int("n")? <= 1 {
            return Ok(KeyRemoval::LastKey);
        }
        sql("DELETE FROM producer_keys WHERE producer_id = $1 AND id = $2")
            .bind(producer.as_str())
            .bind(key_id)
            .execute(D::on_conn(&mut tx))
            .await?;
        let sessions_revoked = sql("UPDATE login_sessions SET revoked_at = $1 \
             WHERE producer_id = $2 AND (key_id = $3 OR key_id IS NULL) \
             AND revoked_at IS NULL AND expires_at > $1")
        .bind(millis(now))
        .bind(producer.as_str())
        .bind(key_id)
        .execute(D::on_conn(&mut tx))
        .await?;
        tx.commit().await.map_err(codec::db_error)?;
        Ok(KeyRemoval::Removed { sessions_revoked })
    }

    async fn producer_by_key(
        &self,
        public_key: &[u8],
    ) -> Result<Option<(Producer, ProducerKey)>, RepoError> {
        let row = sql("SELECT p.id AS id, p.name AS name, p.email AS email, \
             p.public_key AS public_key, p.created_at AS created_at, \
             k.id AS k_id, k.producer_id AS k_producer_id, k.public_key AS k_public_key, \
             k.created_at AS k_created_at \
             FROM producer_keys k JOIN producers p ON p.id = k.producer_id \
             WHERE k.public_key = $1")
        .bind(public_key)
        .fetch_optional(self.db())
        .await?;
        row.map(|row| Ok((codec::producer(&row)?, key_row(&row, "k_")?)))
            .transpose()
    }

    async fn producer_with_keys(
        &self,
        name: &str,
    ) -> Result<Option<(Producer, Vec<ProducerKey>)>, RepoError> {
        let Some(producer) = self.producer_by_name(name).await? else {
            return Ok(None);
        };
        let keys = self.producer_keys(&producer.id).await?;
        Ok(Some((producer, keys)))
    }

    async fn use_assertion(
        &self,
        producer: &ProducerId,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        // Each login sweeps its own producer's expired ids (an index range of the primary
        // key), so the table holds at most the assertions of the last few minutes.
        sql("DELETE FROM used_assertions WHERE producer_id = $1 AND expires_at < $2")
            .bind(producer.as_str())
            .bind(millis(now))
            .execute(self.db())
            .await?;
        sql("INSERT INTO used_assertions (producer_id, jti, expires_at) VALUES ($1, $2, $3)")
            .bind(producer.as_str())
            .bind(jti)
            .bind(millis(expires_at))
            .execute(self.db())
            .await?;
        Ok(())
    }
}
