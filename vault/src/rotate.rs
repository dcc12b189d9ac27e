//! Key rotation (`sealpost vault rotate-key`): a new key-encryption key (KEK), every data key
//! rewrapped under it, old KEKs retired. Content is never read or rewritten: only the 60-byte
//! wrapped key in each object's row changes.
//!
//! # Steps
//! 1. Take the keyring's [`UpdateLock`] (one rotation at a time).
//! 2. **New key or resume.** A ring holding only its current key starts a new rotation: a fresh
//!    KEK is added and made current, and the file is replaced atomically (old keys kept). A ring
//!    that still holds other keys is the trace of a rotation that did not finish (a crash, or
//!    rows that could not be rewrapped yet): that rotation is resumed, no key is added.
//! 3. **Rewrap** every row not under the current KEK, in batches: unwrap with its KEK, wrap
//!    under the current one, compare-and-swap on the old KEK id (a row deleted or rewrapped
//!    meanwhile is left alone). After a short grace, a second pass catches rows that running
//!    vaults inserted meanwhile.
//! 4. **Retire** every non-current KEK that no row references any more: its material leaves
//!    the file. From then on no copy of a row wrapped under it, in any earlier database backup,
//!    can be opened (crypto-shredding of backups).
//!
//! A crash anywhere leaves a valid state: the file is replaced atomically, each row is swapped
//! in one statement, and every row is under a KEK still in the file. Running it again resumes.
//!
//! # Live vaults and the race with retirement
//! A running vault wraps a new upload's data key and inserts its row a moment later. If it
//! wrapped under the old KEK and the insert landed after step 4 counted the rows, the row would
//! name a retired KEK: unreadable after the vault's next restart. Closed from the vault's side
//! (`Vault::keep_under_current_key`): after inserting a row, a vault looks at the key file
//! again (one `stat`) and, if the current KEK is no longer the one it used, rewraps its own row
//! with the data key it still holds in memory — no old KEK needed. Either the vault's check
//! comes after step 2 replaced the file, and it rewraps its own row; or it came before, so its
//! insert came before step 3 started and step 3 rewraps the row. The grace only makes step 4
//! find fewer stragglers; correctness does not depend on its length.
//!
//! Several vault processes must share one key file (one host, or a shared file system).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use schema::{ObjectKey, ObjectRecord, ObjectRepo};

use crate::error::VaultError;
use crate::keyring::{Keyring, UpdateLock};

/// How a rotation runs.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Rows fetched per query.
    pub batch_size: u32,
    /// Pause between the first rewrap pass and the second, for uploads in flight in running
    /// vaults to land.
    pub grace: Duration,
    /// **Test-only failpoint**: abort the process (no unwinding, no clean-up) after this many
    /// rewraps, to prove a crash midway is harmless. `sealpost` sets it from
    /// `SEALPOST_FAILPOINT=rotate-abort-after:N`.
    pub abort_after: Option<u64>,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            grace: Duration::from_secs(2),
            abort_after: None,
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// The KEK every data key is now wrapped under.
    pub current: String,
    /// Whether this run created `current` (`false`: it resumed an unfinished rotation).
    pub created: bool,
    /// Data keys rewrapped by this run.
    pub rewrapped: u64,
    /// KEKs whose material this run removed from the key file.
    pub retired: Vec<String>,
    /// Non-current KEKs still in the file, with how many rows still reference them.
    pub kept: Vec<(String, i64)>,
    /// Rows that could not be rewrapped: their KEK is not in the file or their wrapped key does
    /// not authenticate. Their data is unreadable already; rotation leaves them as they are.
    pub stuck: Vec<ObjectKey>,
}

impl RotationReport {
    /// Whether every data key is under the current KEK and it is the only one left.
    pub fn is_complete(&self) -> bool {
        self.kept.is_empty() && self.stuck.is_empty()
    }
}

impl fmt::Display for RotationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.created { "new" } else { "resumed" };
        write!(
            f,
            "current key-encryption key {} ({how}): rewrapped {} data keys; retired [{}]",
            self.current,
            self.rewrapped,
            self.retired.join(", ")
        )?;
        if !self.kept.is_empty() {
            let kept: Vec<String> = self
                .kept
                .iter()
                .map(|(id, rows)| format!("{id} ({rows} rows)"))
                .collect();
            write!(f, "; kept [{}]", kept.join(", "))?;
        }
        if !self.stuck.is_empty() {
            write!(f, "; {} rows could not be rewrapped", self.stuck.len())?;
        }
        Ok(())
    }
}

/// Rotates the keyring at `keyring_path` over the objects in `repo`; see the module docs.
/// Safe to run while vaults serve from the same key file and database.
pub async fn rotate_key(
    repo: &dyn ObjectRepo,
    keyring_path: &Path,
    options: &RotateOptions,
) -> Result<RotationReport, VaultError> {
    let lock = UpdateLock::acquire(keyring_path)?;
    let mut ring = Keyring::load(keyring_path)?;
    let created = ring.ids().count() == 1;
    if created {
        ring.add_current_key(&lock)?;
        ring.save(&lock)?;
    }
    let mut report = RotationReport {
        current: ring.current_id().to_owned(),
        created,
        ..RotationReport::default()
    };
    tracing::info!(current = %report.current, created, "key rotation: rewrapping data keys");
    let mut pass = Pass::new(repo, &ring, options);
    pass.run(&mut report).await?;
    if !options.grace.is_zero() {
        tokio::time::sleep(options.grace).await;
        pass.run(&mut report).await?;
    }
    report.stuck = pass.stuck.into_iter().collect();
    report.stuck.sort();
    retire(repo, &mut ring, &lock, &mut report).await?;
    Ok(report)
}

/// Removes from the file every non-current KEK that no row references.
async fn retire(
    repo: &dyn ObjectRepo,
    ring: &mut Keyring,
    lock: &UpdateLock,
    report: &mut RotationReport,
) -> Result<(), VaultError> {
    let usage: BTreeMap<String, i64> = repo.kek_usage().await?.into_iter().collect();
    let (unused, used): (Vec<String>, Vec<String>) = ring
        .ids()
        .filter(|id| *id != ring.current_id())
        .map(str::to_owned)
        .partition(|id| usage.get(id).copied().unwrap_or(0) == 0);
    if !unused.is_empty() {
        report.retired = ring.remove_keys(&unused, lock);
        ring.save(lock)?;
    }
    report.kept = used
        .into_iter()
        .map(|id| {
            let rows = usage.get(&id).copied().unwrap_or(0);
            (id, rows)
        })
        .collect();
    Ok(())
}

/// Walks the rows not under the current KEK and rewraps them.
struct Pass<'a> {
    repo: &'a dyn ObjectRepo,
    ring: &'a Keyring,
    options: &'a RotateOptions,
    /// Rows that cannot be rewrapped; skipped by later batches (the query has no cursor, so a
    /// batch asks for that many more rows).
    stuck: HashSet<ObjectKey>,
    /// Rows whose compare-and-swap failed once. A row that fails twice yet is still not under
    /// the current key is changing under us in a way no vault does: left alone, so the pass
    /// cannot loop.
    raced: HashSet<ObjectKey>,
}

impl<'a> Pass<'a> {
    fn new(repo: &'a dyn ObjectRepo, ring: &'a Keyring, options: &'a RotateOptions) -> Self {
        Self {
            repo,
            ring,
            options,
            stuck: HashSet::new(),
            raced: HashSet::new(),
        }
    }

    async fn run(&mut self, report: &mut RotationReport) -> Result<(), VaultError> {
        let current = self.ring.current_id();
        loop {
            let skip = u32::try_from(self.stuck.len()).unwrap_or(u32::MAX);
            let limit = self.options.batch_size.max(1).saturating_add(skip);
            let mut rows = self.repo.objects_not_under(current, limit).await?;
            rows.retain(|row| !self.stuck.contains(&row.key));
            if rows.is_empty() {
                return Ok(());
            }
            for row in &rows {
                match self.rewrap(row).await {
                    Ok(true) => {
                        report.rewrapped += 1;
                        if self.options.abort_after == Some(report.rewrapped) {
                            eprintln!(
                                "sealpost: failpoint rotate-abort-after:{}: aborting",
                                report.rewrapped
                            );
                            std::process::abort();
                        }
                    }
                    // Deleted or rewrapped since the query: its new state needs nothing more.
                    Ok(false) => {
                        if !self.raced.insert(row.key.clone()) {
                            self.stuck.insert(row.key.clone());
                        }
                    }
                    Err(VaultError::UnknownKek { .. } | VaultError::KeyUnwrap { .. }) => {
                        tracing::warn!(object = %row.key, kek_id = %row.kek_id, "key rotation: data key cannot be unwrapped; left as it is");
                        self.stuck.insert(row.key.clone());
                    }
                    Err(error) => return Err(error),
                }
            }
        }
    }

    async fn rewrap(&self, row: &ObjectRecord) -> Result<bool, VaultError> {
        let data_key = self.ring.unwrap(&row.kek_id, &row.wrapped_dek, &row.key)?;
        let (current, wrapped) = self.ring.wrap(&data_key, &row.key)?;
        Ok(self
            .repo
            .rewrap_object(&row.key, &row.kek_id, &current, &wrapped)
            .await?)
    }
}
