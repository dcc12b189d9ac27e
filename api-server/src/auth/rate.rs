//! Rate limits (issue 16, item 6): a token bucket per credential.
//!
//! Each credential (a login token or an API key, named by [`Credential::bucket_key`]) has its
//! own bucket with its own settings ([`Principal::rate`]: `api.rate_per_sec` and
//! `api.rate_burst` for a login token and for an API key without its own `rateLimit`, the
//! key's `rateLimit` otherwise). A full bucket holds `burst` requests and refills at
//! `per_second`; a request that finds it empty is refused with 429 ([`RateLimited`]: Retry-After
//! and the `RateLimit` headers), which the access log records like any other answer. The
//! buckets are `governor`'s GCRA limiters, which decide exactly as a token bucket does, in one
//! atomic word each.
//!
//! **Each API process enforces its own buckets.** They live in this process's memory, not in
//! the database (DESIGN, "Rate limits"): behind a load balancer spreading a credential over
//! N API processes, it may make up to N times its settings in all. Sharing the buckets would
//! put a database round trip on every request for a limit whose purpose is to protect the
//! processes themselves.
//!
//! Memory stays bounded: at most [`MAX_BUCKETS`] buckets (`quick_cache`, which evicts the least
//! useful first; an evicted bucket comes back full, as after an idle spell). A bucket is made
//! only for a credential that verified, so unauthenticated traffic cannot fill the map. When a
//! credential's settings change (an API key's `rateLimit`), its bucket is replaced by one with
//! the new settings on its next request.
//!
//! # Headers
//! As draft-ietf-httpapi-ratelimit-headers-11 (May 2026), sections 3 and 4, defines them: both
//! are Structured Field lists of one item, the quoted policy name `"burst"` (a String, as
//! revision 11 requires; later revisions also allow a Token, so the quoted form stays valid).
//! - `RateLimit-Policy: "burst";q={burst};w={seconds}`: the quota `q` is the bucket's burst and
//!   the window `w` the time an empty bucket takes to fill again, in whole seconds rounded up
//!   (`q=200;w=2` for the defaults, 100 a second and a burst of 200).
//! - `RateLimit: "burst";r={remaining};t={seconds}`: the requests the bucket still holds after
//!   this one, and the seconds until it is full again. On a 429, `r=0` and `t` equals
//!   `Retry-After` (the seconds until the next request is admitted, rounded up, at least 1), so
//!   both name the same moment as the draft asks.
//!
//! Admitted answers carry both fields too: [`Limiters::admit`] notes its decision for the
//! request being served and the [`advertise`] middleware writes it into the response.

use std::cell::Cell;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use quick_cache::sync::Cache;

use super::{Credential, Principal, RateLimit};
use crate::error::ApiError;

/// The most buckets one process keeps (a few hundred bytes each).
pub const MAX_BUCKETS: usize = 100_000;

/// The name of the one policy the headers describe.
const POLICY: &str = "burst";

/// `RateLimit-Policy`.
pub const POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const STATE_HEADER: HeaderName = HeaderName::from_static("ratelimit");

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, StateInformationMiddleware>;

/// One credential's bucket, with the settings it was made with.
struct Bucket<C: Clock> {
    settings: RateLimit,
    limiter: Limiter<C>,
}

impl<C: Clock + Clone> Bucket<C> {
    fn new(settings: RateLimit, clock: &C) -> Self {
        let effective = effective(settings);
        let quota =
            Quota::per_second(nonzero(effective.per_second)).allow_burst(nonzero(effective.burst));
        Self {
            settings,
            limiter: RateLimiter::direct_with_clock(quota, clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
        }
    }
}

/// The buckets of this process, one per credential (module docs).
pub struct Limiters<C: Clock = DefaultClock> {
    buckets: Cache<String, Arc<Bucket<C>>>,
    clock: C,
}

impl Limiters {
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default(), MAX_BUCKETS)
    }
}

impl Default for Limiters {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock + Clone> Limiters<C> {
    fn with_clock(clock: C, capacity: usize) -> Self {
        Self {
            buckets: Cache::new(capacity),
            clock,
        }
    }

    /// Takes one request from `principal`'s bucket: 429 when it is empty. An admitted request's
    /// answer gets the `RateLimit` headers through [`advertise`].
    pub fn admit(&self, principal: &Principal) -> Result<(), ApiError> {
        let admitted = self
            .decide(&principal.credential, principal.rate)
            .map_err(ApiError::RateLimited)?;
        // Outside a request served through `advertise` (unit tests) there is no one to tell.
        let _ = ADMITTED.try_with(|slot| slot.set(Some(admitted)));
        Ok(())
    }

    /// Takes one request from the bucket of `credential`, whose settings are `rate`.
    fn decide(&self, credential: &Credential, rate: RateLimit) -> Result<Admitted, RateLimited> {
        let bucket = self.bucket(&credential.bucket_key(), rate);
        match bucket.limiter.check() {
            Ok(snapshot) => Ok(Admitted::new(rate, snapshot.remaining_burst_capacity())),
            Err(refused) => {
                let wait = refused.wait_time_from(self.clock.now());
                Err(RateLimited::new(rate, whole_seconds_up(wait).max(1)))
            }
        }
    }

    /// The bucket of `key`, made (full) if there is none or if its settings are not `rate`.
    fn bucket(&self, key: &str, rate: RateLimit) -> Arc<Bucket<C>> {
        let fresh = || Arc::new(Bucket::new(rate, &self.clock));
        let Ok(bucket) = self
            .buckets
            .get_or_insert_with(key, || Ok::<_, std::convert::Infallible>(fresh()));
        if bucket.settings == rate {
            return bucket;
        }
        let bucket = fresh();
        self.buckets.insert(key.to_owned(), bucket.clone());
        bucket
    }
}

/// A request over its credential's limit: what the 429's headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// `Retry-After`, in whole seconds (rounded up, at least 1).
    pub retry_after_secs: u64,
    /// `RateLimit-Policy`.
    pub policy: String,
    /// `RateLimit`: nothing left until `Retry-After`.
    pub state: String,
}

impl RateLimited {
    fn new(rate: RateLimit, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs,
            policy: policy_field(rate),
            state: state_field(0, retry_after_secs),
        }
    }
}

/// An admitted request: what its answer's headers say about the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Admitted {
    rate: RateLimit,
    /// Requests the bucket still holds.
    remaining: u32,
}

impl Admitted {
    fn new(rate: RateLimit, remaining: u32) -> Self {
        Self { rate, remaining }
    }

    fn policy(&self) -> String {
        policy_field(self.rate)
    }

    /// `t`: the seconds until the bucket is full again.
    fn state(&self) -> String {
        let missing = effective(self.rate).burst.saturating_sub(self.remaining);
        state_field(self.remaining, refill_secs(self.rate, missing))
    }
}

tokio::task_local! {
    /// The decision of [`Limiters::admit`] for the request being served, read by [`advertise`].
    static ADMITTED: Cell<Option<Admitted>>;
}

/// Middleware: writes `RateLimit-Policy` and `RateLimit` into the answer of a request whose
/// credential's bucket admitted it, whatever the answer's status. (A 429 carries its own, from
/// [`RateLimited`]; a request without a credential has no bucket and gets neither.)
pub async fn advertise<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let (result, admitted) = ADMITTED
        .scope(Cell::new(None), async move {
            let result = next.call(request).await;
            (result, ADMITTED.with(Cell::get))
        })
        .await;
    let mut response = result?;
    if let Some(admitted) = admitted {
        let headers = response.headers_mut();
        for (name, value) in [
            (POLICY_HEADER, admitted.policy()),
            (STATE_HEADER, admitted.state()),
        ] {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
    }
    Ok(response)
}

/// The settings a bucket enforces: a zero (which configuration and key validation refuse)
/// counts as 1, so no setting can stop a credential for good or divide by zero.
fn effective(rate: RateLimit) -> RateLimit {
    RateLimit {
        per_second: rate.per_second.max(1),
        burst: rate.burst.max(1),
    }
}

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN)
}

/// `RateLimit-Policy`'s value for a bucket with settings `rate`.
fn policy_field(rate: RateLimit) -> String {
    let rate = effective(rate);
    format!(
        "\"{POLICY}\";q={};w={}",
        rate.burst,
        refill_secs(rate, rate.burst)
    )
}

/// `RateLimit`'s value: `remaining` requests, full again (or, when 0, the next one) in
/// `reset_secs`.
fn state_field(remaining: u32, reset_secs: u64) -> String {
    format!("\"{POLICY}\";r={remaining};t={reset_secs}")
}

/// The seconds, rounded up, that `missing` requests take to come back at `rate`.
fn refill_secs(rate: RateLimit, missing: u32) -> u64 {
    u64::from(missing).div_ceil(u64::from(effective(rate).per_second))
}

fn whole_seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use governor::clock::FakeRelativeClock;

    use super::*;

    const TEST: RateLimit = RateLimit {
        per_second: 2,
        burst: 5,
    };

    fn token(jti: &str) -> Credential {
        Credential::Token { jti: jti.into() }
    }

    fn limiters() -> (Limiters<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (Limiters::with_clock(clock.clone(), 16), clock)
    }

    #[test]
    fn the_policy_names_the_burst_and_the_time_to_refill_it() {
        assert_eq!(policy_field(TEST), r#""burst";q=5;w=3"#);
        let defaults = RateLimit {
            per_second: 100,
            burst: 200,
        };
        assert_eq!(policy_field(defaults), r#""burst";q=200;w=2"#);
        let huge = RateLimit {
            per_second: 1_000_000,
            burst: 1_000_000,
        };
        assert_eq!(policy_field(huge), r#""burst";q=1000000;w=1"#);
        let zero = RateLimit {
            per_second: 0,
            burst: 0,
        };
        assert_eq!(policy_field(zero), r#""burst";q=1;w=1"#);
    }

    #[test]
    fn the_state_names_what_is_left_and_when_the_bucket_is_full() {
        assert_eq!(state_field(0, 1), r#""burst";r=0;t=1"#);
        assert_eq!(Admitted::new(TEST, 4).state(), r#""burst";r=4;t=1"#);
        assert_eq!(Admitted::new(TEST, 0).state(), r#""burst";r=0;t=3"#);
        assert_eq!(Admitted::new(TEST, 5).state(), r#""burst";r=5;t=0"#);
    }

    #[test]
    fn seconds_are_rounded_up() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
        assert_eq!(whole_seconds_up(Duration::from_nanos(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn a_burst_over_the_limit_is_refused_until_the_bucket_refills() {
        let (limiters, clock) = limiters();
        let alice = token("alice");
        for remaining in (0..5).rev() {
            assert_eq!(
                limiters.decide(&alice, TEST),
                Ok(Admitted::new(TEST, remaining))
            );
        }
        let refused = limiters.decide(&alice, TEST).unwrap_err();
        assert_eq!(
            refused.retry_after_secs, 1,
            "one request comes back in 0.5 s"
        );
        assert_eq!(refused.policy, r#""burst";q=5;w=3"#);
        assert_eq!(refused.state, r#""burst";r=0;t=1"#);
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiters.decide(&alice, TEST), Ok(Admitted::new(TEST, 0)));
        assert!(limiters.decide(&alice, TEST).is_err());
    }

    #[test]
    fn a_slow_bucket_asks_for_the_whole_wait() {
        let (limiters, clock) = limiters();
        let slow = RateLimit {
            per_second: 1,
            burst: 1,
        };
        let key = Credential::ApiKey {
            id: "k1".into(),
            name: "ci".into(),
        };
        assert!(limiters.decide(&key, slow).is_ok());
        clock.advance(Duration::from_millis(200));
        let refused = limiters.decide(&key, slow).unwrap_err();
        assert_eq!(refused.retry_after_secs, 1, "0.8 s, rounded up");
    }

    #[test]
    fn each_credential_has_its_own_bucket() {
        let (limiters, _clock) = limiters();
        let one = RateLimit {
            per_second: 1,
            burst: 1,
        };
        assert!(limiters.decide(&token("a"), one).is_ok());
        assert!(limiters.decide(&token("a"), one).is_err());
        assert!(limiters.decide(&token("b"), one).is_ok());
        let key = Credential::ApiKey {
            id: "a".into(),
            name: "a".into(),
        };
        assert!(limiters.decide(&key, one).is_ok(), "key:a is not token:a");
    }

    #[test]
    fn a_bucket_follows_its_credentials_new_settings() {
        let (limiters, _clock) = limiters();
        let one = RateLimit {
            per_second: 1,
            burst: 1,
        };
        assert!(limiters.decide(&token("a"), one).is_ok());
        assert!(limiters.decide(&token("a"), one).is_err());
        let admitted = limiters.decide(&token("a"), TEST).unwrap();
        assert_eq!(admitted, Admitted::new(TEST, 4));
        assert_eq!(admitted.policy(), r#""burst";q=5;w=3"#);
    }

    #[test]
    fn the_buckets_are_bounded() {
        let (limiters, _clock) = limiters();
        for n in 0..1000 {
            assert!(limiters.decide(&token(&n.to_string()), TEST).is_ok());
        }
        assert!(limiters.buckets.len() <= 16);
    }
}
