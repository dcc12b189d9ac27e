//! The client's address and the producer's IP allowlist (issue 16, item 5).
//!
//! The address comes from [`shared::client_addr`], the one rule the gateway and every log use
//! too. The allowlist is checked on every request (every credential, and `POST /login`), so
//! each process keeps the lists it read for at most [`ALLOWLIST_TTL`]: a `PUT` on this process
//! takes effect on its next request, and on every other process within that second (DESIGN,
//! "Scaled out": in-memory caches follow a change within one second). The cost is one
//! primary-key read per producer per second per process, whatever the request rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, web};
use ipnet::IpNet;
use schema::ProducerId;

use crate::context::ApiContext;
use crate::error::ApiError;

/// How long a process believes an allowlist it read.
pub const ALLOWLIST_TTL: Duration = Duration::from_secs(1);
/// More producers than this cached at once: the cache starts over (it only saves reads).
const MAX_CACHED: usize = 10_000;

/// Decides a request's client address ([`shared::client_addr::ClientRule`]) and caches the
/// producers' allowlists.
pub struct ClientRule {
    rule: shared::client_addr::ClientRule,
    allowlists: Mutex<Allowlists>,
}

/// The lists read, and a count of the `PUT`s this process saw: a read that began before one
/// is not kept (it may hold the list the `PUT` replaced).
#[derive(Default)]
struct Allowlists {
    lists: HashMap<ProducerId, Cached>,
    changes: u64,
}

struct Cached {
    read_at: Instant,
    list: Arc<[IpNet]>,
}

impl ClientRule {
    /// Fails on a `trusted_proxies` entry that is not a CIDR or an address, naming it.
    pub fn new(trusted_proxies: &[String]) -> anyhow::Result<Self> {
        Ok(Self {
            rule: shared::client_addr::ClientRule::new(trusted_proxies)?,
            allowlists: Mutex::new(Allowlists::default()),
        })
    }

    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.rule.client_address(req.head())
    }

    /// Forgets this process's copy of the producer's allowlist (after a `PUT`).
    pub fn forget_allowlist(&self, producer: &ProducerId) {
        let mut cache = self.lock();
        cache.changes += 1;
        cache.lists.remove(producer);
    }

    /// The fresh copy of the producer's list, or the change count to read one under.
    fn cached(&self, producer: &ProducerId) -> Result<Arc<[IpNet]>, u64> {
        let cache = self.lock();
        match cache.lists.get(producer) {
            Some(entry) if entry.read_at.elapsed() < ALLOWLIST_TTL => Ok(entry.list.clone()),
            _ => Err(cache.changes),
        }
    }

    /// Keeps a list read at `read_at`, unless a `PUT` came since the read began (`changes`).
    fn keep(&self, producer: &ProducerId, list: Arc<[IpNet]>, read_at: Instant, changes: u64) {
        let mut cache = self.lock();
        if cache.changes != changes {
            return;
        }
        if cache.lists.len() >= MAX_CACHED {
            cache.lists.clear();
        }
        cache
            .lists
            .insert(producer.clone(), Cached { read_at, list });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Allowlists> {
        self.allowlists
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The client address of `req` by the API's rule (the TCP peer when the API context is
/// missing, which only tests that build bare requests see): the access log's remote-IP column.
pub fn address_of(req: &HttpRequest) -> Option<IpAddr> {
    match req.app_data::<web::Data<ApiContext>>() {
        Some(context) => context.auth.clients.client_address(req),
        None => req.peer_addr().map(|addr| addr.ip().to_canonical()),
    }
}

/// 403 when the producer has an allowlist and `address` is outside it (or unknown).
pub async fn enforce_allowlist(
    context: &ApiContext,
    producer: &ProducerId,
    address: Option<IpAddr>,
) -> Result<(), ApiError> {
    let list = allowlist(context, producer).await?;
    if list.is_empty() || address.is_some_and(|address| allows(&list, address)) {
        return Ok(());
    }
    let shown = address.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
    Err(ApiError::Forbidden(format!(
        "the address {shown} is not allowed by this producer's IP allowlist"
    )))
}

/// Whether `address` falls in one of `list`'s CIDRs.
pub fn allows(list: &[IpNet], address: IpAddr) -> bool {
    let address = address.to_canonical();
    list.iter().any(|net| net.contains(&address))
}

/// The producer's allowlist, from this process's copy when it is fresh enough.
async fn allowlist(context: &ApiContext, producer: &ProducerId) -> Result<Arc<[IpNet]>, ApiError> {
    let clients = &context.auth.clients;
    let changes = match clients.cached(producer) {
        Ok(list) => return Ok(list),
        Err(changes) => changes,
    };
    // Timed from before the read, so a list is never believed longer than the TTL after it
    // was current.
    let read_at = Instant::now();
    let list: Arc<[IpNet]> = context.repo.allowlist(producer).await?.into();
    clients.keep(producer, list.clone(), read_at, changes);
    Ok(list)
}
