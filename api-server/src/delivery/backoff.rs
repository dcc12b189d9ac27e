//! The retry schedule: exponential backoff with jitter.

use std::time::Duration;

use ring::rand::{SecureRandom as _, SystemRandom};

/// The delay before the attempt after attempt number `attempts` (1 for the first): `base ×
/// 2^(attempts−1)`, capped at `max`, plus a random jitter of up to half of it, so jobs that
/// failed together (a receiver down) do not all come back in the same instant.
pub fn delay(attempts: i64, base: Duration, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = base.saturating_mul(1 << doublings).min(max);
    let half = u64::try_from(delay.as_millis() / 2).unwrap_or(u64::MAX);
    delay + Duration::from_millis(random_below(half.saturating_add(1)))
}

fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    // A failed RNG only loses the jitter, never the retry.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0;
    }
    u64::from_le_bytes(bytes) % bound.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters_within_half() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for (attempts, expected) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (60, 1000),
        ] {
            for _ in 0..50 {
                let ms = delay(attempts, base, max).as_millis() as u64;
                assert!(
                    (expected..=expected + expected / 2).contains(&ms),
                    "{attempts}: {ms}"
                );
            }
        }
    }
}
