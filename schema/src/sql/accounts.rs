//! Producers and their login sessions.

use chrono::{DateTime, Utc};

use async_trait::async_trait;

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, Columns as _, millis, producer_columns, session_columns};
use crate::model::{LoginSession, Producer};
use crate::repo::{ProducerKey, ProducerRepo, RepoError};

#[async_trait]
impl<D: Dialect> ProducerRepo for SqlRepository<D> {
    /// The producer and its first key (`producer_keys`, which logins are checked against),
    /// in one transaction.
    async fn insert_producer(&self, producer: &Producer) -> Result<(), RepoError> {
        let mut tx = D::begin_write(&self.pool).await?;
        sql(concat!(
            "INSERT INTO producers (",
            producer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(producer.id.as_str())
        .bind(&producer.name)
        .bind(producer.email.as_deref())
        .bind(&producer.public_key)
        .bind(millis(producer.created_at))
        .execute(D::on_conn(&mut tx))
        .await?;
        let key = ProducerKey {
            id: ProducerKey::new_id(),
            producer_id: producer.id.clone(),
            public_key: producer.public_key.clone(),
            created_at: producer.created_at,
        };
        super::producer_keys::insert_key::<D>(&key)
            .execute(D::on_conn(&mut tx))
            .await?;
        tx.commit().await.map_err(codec::db_error)?;
        Ok(())
    }

    async fn producer_by_name(&self, name: &str) -> Result<Option<Producer>, RepoError> {
        sql(concat!(
            "SELECT ",
            producer_columns!(),
            " FROM producers WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.db())
        .await?
        .map(|row| codec::producer(&row))
        .transpose()
    }

    async fn count_producers(&self) -> Result<i64, RepoError> {
        sql("SELECT COUNT(*) AS n FROM producers")
            .fetch_one(self.db())
            .await?
            .int("n")
    }

    async fn insert_session(&self, session: &LoginSession) -> Result<(), RepoError> {
        sql(concat!(
            "INSERT INTO login_sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&session.jti)
        .bind(session.producer_id.as_str())
        .bind(&session.email)
        .bind(millis(session.issued_at))
        .bind(millis(session.expires_at))
        .bind(session.revoked_at.map(millis))
        .bind(session.key_id.as_deref())
        .bind(session.environment.as_str())
        .execute(self.db())
        .await?;
        Ok(())
    }

    async fn active_session(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginSession>, RepoError> {
        sql(concat!(
            "SELECT ",
            session_columns!(),
            " FROM login_sessions WHERE jti = $1 AND revoked_at IS NULL AND expires_at > $2"
        ))
        .bind(jti)
        .bind(millis(now))
        .fetch_optional(self.db())
        .await?
        .map(|row| codec::session(&row))
        .transpose()
    }

    async fn revoke_session(&self, jti: &str, now: DateTime<Utc>) -> Result<bool, RepoError> {
        let done = sql("UPDATE login_sessions SET revoked_at = $1 \
             WHERE jti = $2 AND revoked_at IS NULL AND expires_at > $3")
        .bind(millis(now))
        .bind(jti)
        .bind(millis(now))
        .execute(self.db())
        .await?;
        Ok(done > 0)
    }
}
