//! What an attempt needs of its document, cached for a moment: the record holds the whole
//! audience (10,000 records are ~600 KB), and reading it for every attempt of a large delivery
//! would cost more than the sends. An entry lives [`TTL`]: a document deleted, expired or given
//! a new placeholder is noticed by attempts starting at most that much later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use schema::{DocumentId, DocumentRepo, Tenant};

use crate::context::Links;
use crate::representation::placeholder_href;

pub const TTL: Duration = Duration::from_secs(1);

/// The parts of a document record an attempt uses.
#[derive(Debug)]
pub struct DocumentInfo {
    pub id: DocumentId,
    pub placeholder_id: String,
    pub placeholder_href: String,
    pub expiration: DateTime<Utc>,
}

type Key = (Tenant, DocumentId);
/// When it was read, and what (`None`: no such document).
type Entry = (Instant, Option<Arc<DocumentInfo>>);

#[derive(Default)]
pub struct DocumentCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl DocumentCache {
    /// The tenant's document (`None` once deleted), from the cache when fresh.
    pub async fn get(
        &self,
        repo: &dyn DocumentRepo,
        links: &Links,
        tenant: &Tenant,
        id: &DocumentId,
    ) -> Result<Option<Arc<DocumentInfo>>, schema::RepoError> {
        let key = (tenant.clone(), id.clone());
        if let Some((at, info)) = self.lock().get(&key)
            && at.elapsed() < TTL
        {
            return Ok(info.clone());
        }
        let info = repo.document(tenant, id).await?.map(|record| {
            Arc::new(DocumentInfo {
                placeholder_href: placeholder_href(links, &record),
                placeholder_id: record.placeholder_id.as_str().to_owned(),
                expiration: record.expiration,
                id: record.id,
            })
        });
        let mut entries = self.lock();
        entries.retain(|_, (at, _)| at.elapsed() < TTL);
        entries.insert(key, (Instant::now(), info.clone()));
        Ok(info)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
