//! Producers and their login sessions (trait methods delegate here).

use chrono::{DateTime, Utc};

use super::SqliteRepository;
use crate::codec::{self, db_error, millis, producer_columns, session_columns};
use crate::model::{LoginSession, Producer};
use crate::repo::RepoError;

impl SqliteRepository {
    pub(super) async fn add_producer(&self, producer: &Producer) -> Result<(), RepoError> {
        sqlx::query(concat!(
            "INSERT INTO producers (",
            producer_columns!(),
            ") VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(producer.id.as_str())
        .bind(&producer.name)
        .bind(producer.email.as_deref())
        .bind(&producer.public_key)
        .bind(millis(producer.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn find_producer_by_public_key(
        &self,
        public_key: &[u8],
    ) -> Result<Option<Producer>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            producer_columns!(),
            " FROM producers WHERE public_key = ?"
        ))
        .bind(public_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::producer(&row))
        .transpose()
    }

    pub(super) async fn find_producer_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Producer>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            producer_columns!(),
            " FROM producers WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::producer(&row))
        .transpose()
    }

    pub(super) async fn producer_count(&self) -> Result<i64, RepoError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM producers")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    pub(super) async fn add_session(&self, session: &LoginSession) -> Result<(), RepoError> {
        sqlx::query(concat!(
            "INSERT INTO login_sessions (",
            session_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(&session.jti)
        .bind(session.producer_id.as_str())
        .bind(&session.email)
        .bind(millis(session.issued_at))
        .bind(millis(session.expires_at))
        .bind(session.revoked_at.map(millis))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn find_active_session(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginSession>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM login_sessions WHERE jti = ? AND revoked_at IS NULL AND expires_at > ?"
        ))
        .bind(jti)
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::session(&row))
        .transpose()
    }

    pub(super) async fn mark_session_revoked(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let done = sqlx::query(
            "UPDATE login_sessions SET revoked_at = ? \
             WHERE jti = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(millis(now))
        .bind(jti)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }
}
