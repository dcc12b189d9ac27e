//! The expiry sweep: expired documents are refused at once by [`super::find`]; this task
//! destroys their content and record shortly after.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::context::ApiContext;

/// Documents deleted per query, so one sweep never holds a long transaction.
const BATCH: u32 = 100;

/// Runs the sweep every `interval` until the returned task is aborted.
pub fn spawn_expiry_sweeper(
    context: Arc<ApiContext>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match sweep(&context).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "expired documents destroyed"),
                Err(error) => {
                    tracing::warn!(error = %error, "expiry sweep failed; retrying next tick")
                }
            }
        }
    })
}

async fn sweep(context: &ApiContext) -> Result<usize, crate::error::ApiError> {
    let mut total = 0;
    loop {
        let expired = context.repo.expired_documents(Utc::now(), BATCH).await?;
        for (producer, id) in &expired {
            super::delete::delete_expired(context, producer, id).await?;
        }
        total += expired.len();
        if expired.len() < BATCH as usize {
            return Ok(total);
        }
    }
}
