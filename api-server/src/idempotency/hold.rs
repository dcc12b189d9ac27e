//! A reserved key while its request runs: kept alive by a heartbeat, and given back if the
//! request ends without an answer to keep (an error, or a client that went away mid-upload).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use schema::repo::idempotency::{IdempotencySlot, StoredResponse};
use schema::{Environment, ProducerId, RepoError, Repository};
use tokio::task::JoinHandle;

/// How often a running request marks its reservation alive.
pub const HEARTBEAT: Duration = Duration::from_secs(60);

/// A reserved key; dropped without [`complete`](Self::complete), it is released.
pub struct Held {
    repo: Arc<dyn Repository>,
    producer: ProducerId,
    environment: Environment,
    key: String,
    heartbeat: JoinHandle<()>,
    released: bool,
}

impl Held {
    /// Holds the key `slot` names (just reserved) and starts its heartbeat.
    pub fn new(repo: Arc<dyn Repository>, slot: IdempotencySlot<'_>) -> Self {
        let (producer, environment, key) =
            (slot.producer.clone(), slot.environment, slot.key.to_owned());
        let heartbeat = tokio::spawn({
            let (repo, producer, key) = (repo.clone(), producer.clone(), key.clone());
            async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let slot = IdempotencySlot {
                        producer: &producer,
                        environment,
                        key: &key,
                    };
                    if let Err(error) = repo.touch_idempotency_key(slot, Utc::now()).await {
                        tracing::warn!(error = %error, "an idempotency key could not be kept alive");
                    }
                }
            }
        });
        Self {
            repo,
            producer,
            environment,
            key,
            heartbeat,
            released: false,
        }
    }

    fn slot(&self) -> IdempotencySlot<'_> {
        IdempotencySlot {
            producer: &self.producer,
            environment: self.environment,
            key: &self.key,
        }
    }

    /// Keeps `response` as the key's answer; on failure the key is released (on drop).
    pub async fn complete(
        mut self,
        body_sha256: &str,
        response: &StoredResponse,
    ) -> Result<(), RepoError> {
        let expires = Utc::now() + super::KEPT_FOR;
        self.repo
            .complete_idempotency_key(self.slot(), body_sha256, response, expires)
            .await?;
        self.released = true;
        Ok(())
    }

    /// Gives the key back now.
    pub async fn release(mut self) {
        if let Err(error) = self.repo.release_idempotency_key(self.slot()).await {
            tracing::warn!(error = %error, "an idempotency key could not be released");
        }
        self.released = true;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if self.released {
            return;
        }
        let (repo, producer, environment, key) = (
            self.repo.clone(),
            self.producer.clone(),
            self.environment,
            std::mem::take(&mut self.key),
        );
        tokio::spawn(async move {
            let slot = IdempotencySlot {
                producer: &producer,
                environment,
                key: &key,
            };
            if let Err(error) = repo.release_idempotency_key(slot).await {
                tracing::warn!(error = %error, "an idempotency key could not be released");
            }
        });
    }
}
