//! The gateway's placeholder cache (issue 20): the documents [`crate::ViewerRepo::viewer_document`]
//! read, kept at most [`VIEWER_CACHE_TTL`] and at most [`VIEWER_CACHE_ENTRIES`] of them, with
//! their challenge and landing page already parsed.
//!
//! DESIGN "Scaled out": in-memory caches are invalidated for every process within one second
//! of a change and never serve replaced content.
//! - In this process, every document write through the repository (insert, replace, which
//!   carries every PUT of a part, and delete) empties the cache once it has committed
//!   ([`ViewerCache::invalidate`]), before the API answers; a fill that read the row before
//!   such a write is never stored as current (it carries the generation it started under).
//!   `sealpost up` and the split wiring hand the API and the gateway one repository object,
//!   so the gateway sees the API's change at once.
//! - Another process's change is seen once the entry is older than the TTL (≤ 1 s). Meanwhile
//!   a handle minted from the old row names the old object key and access version, and the
//!   vault refuses both against the row it reads for every download
//!   (`vault/src/http/handle/mod.rs`, `servable`: `ContentReplaced`, `AccessChanged`).
//! - The expiration is compared with the time of each request by the gateway, not here.
//!
//! A document request cost a `SELECT` through sqlx's SQLite worker thread (two thread
//! hand-offs), whose page cache every audit commit invalidates; a hit is a map lookup and a
//! clone. Only found documents are kept: an unknown placeholder is asked every time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::ids::PlaceholderId;
use crate::model::ViewerDocument;

/// How long an entry is served: DESIGN's bound for another process's change (1 s).
pub const VIEWER_CACHE_TTL: Duration = Duration::from_secs(1);
/// Most entries kept (a few hundred bytes each: ~10 MiB at most).
pub const VIEWER_CACHE_ENTRIES: usize = 20_000;

#[derive(Debug)]
struct Entry {
    document: ViewerDocument,
    filled: Instant,
    generation: u64,
}

/// Documents by placeholder, shared by every clone of the repository.
#[derive(Debug)]
pub(crate) struct ViewerCache {
    entries: Mutex<HashMap<PlaceholderId, Entry>>,
    /// Bumped by every document write; an entry filled under an older one is not served.
    generation: AtomicU64,
    ttl: Duration,
    capacity: usize,
}

impl Default for ViewerCache {
    fn default() -> Self {
        Self::new(VIEWER_CACHE_TTL, VIEWER_CACHE_ENTRIES)
    }
}

impl ViewerCache {
    /// A cache keeping `capacity` entries for `ttl`, at most [`VIEWER_CACHE_TTL`] (a longer one
    /// is cut to it); a zero TTL or capacity keeps nothing.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl: ttl.min(VIEWER_CACHE_TTL),
            capacity,
        }
    }

    /// The current generation, read before the row is: what [`Self::store`] is given.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The document under `placeholder`, when an entry is younger than the TTL and no write
    /// came after its fill began.
    pub(crate) fn get(&self, placeholder: &PlaceholderId) -> Option<ViewerDocument> {
        let current = self.generation();
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(placeholder)?;
        (entry.generation == current && entry.filled.elapsed() < self.ttl)
            .then(|| entry.document.clone())
    }

    /// Keeps `document`, read after [`Self::generation`] gave `generation`; dropped when a
    /// write came in between. A full cache first drops its stale entries, then all of them.
    pub(crate) fn store(&self, document: &ViewerDocument, generation: u64) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Checked under the lock `invalidate` clears under: a write that committed before
        // this either bumped the generation already or clears the map after this insert.
        if self.generation() != generation {
            return;
        }
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries
                .retain(|_, entry| entry.generation == generation && entry.filled.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let entry = Entry {
            document: document.clone(),
            filled: Instant::now(),
            generation,
        };
        entries.insert(document.placeholder_id.clone(), entry);
    }

    /// A document changed (called once the write committed): nothing read before is served.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> ViewerDocument {
        let now = chrono::Utc::now();
        ViewerDocument {
            id: crate::DocumentId::random(),
            producer_id: crate::ProducerId::random(),
            placeholder_id: PlaceholderId::random(),
            object_key: crate::ObjectKey::random(),
            name: "d".into(),
            media_type: "text/plain".into(),
            expiration: now,
            has_audience: false,
            challenge: None,
            landingpage: None,
            last_modified: now,
            access_version: 0,
            environment: crate::Environment::Live,
        }
    }

    #[test]
    fn a_write_drops_entries_and_fills_begun_before_it() {
        let cache = ViewerCache::default();
        let doc = document();
        let before = cache.generation();
        cache.store(&doc, before);
        assert!(cache.get(&doc.placeholder_id).is_some());
        cache.invalidate();
        assert!(cache.get(&doc.placeholder_id).is_none());
        // A fill that read the row before the write is not kept.
        cache.store(&doc, before);
        assert!(cache.get(&doc.placeholder_id).is_none());
    }

    #[test]
    fn the_ttl_is_at_most_a_second_and_the_size_is_bounded() {
        let cache = ViewerCache::new(Duration::from_secs(60), 2);
        assert_eq!(cache.ttl, VIEWER_CACHE_TTL);
        let docs: Vec<ViewerDocument> = (0..5).map(|_| document()).collect();
        for doc in &docs {
            cache.store(doc, cache.generation());
        }
        assert!(cache.entries.lock().map(|e| e.len()).unwrap_or(0) <= 2);
        let off = ViewerCache::new(Duration::ZERO, 10);
        off.store(&docs[0], off.generation());
        assert!(off.get(&docs[0].placeholder_id).is_none());
    }
}
