//! Deliveries and their jobs: queued together, claimed under a lease, finished once, secrets
//! wiped with the last job, claims of concurrent workers disjoint.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::repo::delivery::{FinishedJob, JobOutcome, JobStatus, NewDelivery, NewRecipient};
use schema::{DocumentId, ProducerId, Repository};
use serde_json::json;

use crate::fixtures::now;

conformance!(
    claim_finish_and_wipe,
    a_batch_of_outcomes_in_one_call,
    expired_lease_is_claimed_again,
    scoped_to_producer_and_document,
    concurrent_claims_are_disjoint,
    finished_job_stays_finished,
);

async fn finish(
    repo: &dyn Repository,
    delivery: &DocumentId,
    seq: i64,
    outcome: JobOutcome,
    now: DateTime<Utc>,
) -> bool {
    let job = FinishedJob {
        delivery_id: delivery.clone(),
        seq,
        outcome,
    };
    repo.finish_delivery_jobs(&[job], now).await.unwrap()[0]
}

fn delivery(created_at: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        id: DocumentId::random(),
        producer_id: ProducerId::random(),
        document_id: DocumentId::random(),
        operator: Some("ops@example.com".into()),
        fulfillment: json!({"type": "http", "href": "https://x.example/{?link}"}),
        secrets: Some(vec![1, 2, 3, 0, 255]),
        created_at,
        environment: schema::Environment::Live,
    }
}

fn recipients(delivery: &NewDelivery, count: usize) -> Vec<NewRecipient> {
    (0..count)
        .map(|i| NewRecipient {
            record: Some(i as i64),
            idempotency_key: format!("{}.{i}", delivery.id.as_str()),
            viewer: json!({"fields": {"email_address": format!("zoë{i}@example.com")}}),
        })
        .collect()
}

async fn claim_finish_and_wipe(repo: Arc<dyn Repository>) {
    let t = now();
    let lease = t + Duration::seconds(60);
    let new = delivery(t);
    repo.insert_delivery(&new, &recipients(&new, 3))
        .await
        .unwrap();
    let status = repo
        .delivery(&new.producer_id, &new.document_id, &new.id)
        .await
        .unwrap()
        .unwrap();
    assert!(status.holds_secrets);
    assert_eq!(status.created_at, t);
    assert_eq!(status.recipients.len(), 3);
    assert!(
        status
            .recipients
            .iter()
            .all(|r| r.status == JobStatus::Queued && r.attempts == 0)
    );

    let first = repo.claim_delivery_jobs(t, lease, 2).await.unwrap();
    assert_eq!(first.iter().map(|j| j.seq).collect::<Vec<_>>(), [0, 1]);
    let job = &first[0];
    assert_eq!(job.attempts, 1);
    assert_eq!(job.secrets.as_deref(), Some(&[1u8, 2, 3, 0, 255][..]));
    assert_eq!(job.idempotency_key, format!("{}.0", new.id.as_str()));
    assert_eq!(job.viewer["fields"]["email_address"], "zoë0@example.com");
    assert_eq!(
        (&job.document_id, &job.producer_id),
        (&new.document_id, &new.producer_id)
    );
    assert_eq!(job.operator.as_deref(), Some("ops@example.com"));
    assert_eq!(job.fulfillment, new.fulfillment);
    let second = repo.claim_delivery_jobs(t, lease, 10).await.unwrap();
    assert_eq!(second.iter().map(|j| j.seq).collect::<Vec<_>>(), [2]);
    assert!(
        repo.claim_delivery_jobs(t, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let retry_at = t + Duration::seconds(5);
    let done = |seq, outcome| {
        let repo = repo.clone();
        let id = new.id.clone();
        async move { finish(repo.as_ref(), &id, seq, outcome, t).await }
    };
    assert!(done(0, JobOutcome::Sent).await);
    let error = "HTTP 503 from the receiver".to_owned();
    assert!(
        done(
            1,
            JobOutcome::Retry {
                error: error.clone(),
                at: retry_at
            }
        )
        .await
    );
    assert!(done(2, JobOutcome::Failed("HTTP 400 from the receiver".into())).await);
    let status = repo
        .delivery(&new.producer_id, &new.document_id, &new.id)
        .await
        .unwrap()
        .unwrap();
    let states: Vec<_> = status.recipients.iter().map(|r| r.status).collect();
    assert_eq!(
        states,
        [JobStatus::Sent, JobStatus::Queued, JobStatus::Failed]
    );
    assert_eq!(
        status.recipients[1].last_error.as_deref(),
        Some(error.as_str())
    );
    assert_eq!(status.recipients[1].next_attempt_at, Some(retry_at));
    assert!(status.holds_secrets, "a job is still queued");

    assert!(
        repo.claim_delivery_jobs(t, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = repo.claim_delivery_jobs(retry_at, lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].seq, again[0].attempts), (1, 2));
    assert!(done(1, JobOutcome::Sent).await);
    let status = repo
        .delivery(&new.producer_id, &new.document_id, &new.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!status.holds_secrets, "the last job wiped the secrets");
    assert_eq!(status.recipients[1].status, JobStatus::Sent);
    assert_eq!(status.recipients[1].attempts, 2);
    assert_eq!(status.recipients[1].last_error, None);
}

async fn expired_lease_is_claimed_again(repo: Arc<dyn Repository>) {
    let t = now();
    let new = delivery(t);
    repo.insert_delivery(&new, &recipients(&new, 1))
        .await
        .unwrap();
    let lease = t + Duration::seconds(10);
    assert_eq!(
        repo.claim_delivery_jobs(t, lease, 5).await.unwrap().len(),
        1
    );
    assert!(
        repo.claim_delivery_jobs(lease - Duration::milliseconds(1), lease, 5)
            .await
            .unwrap()
            .is_empty()
    );
    // The worker died: once the lease ran out the job is due again, one attempt more.
    let again = repo
        .claim_delivery_jobs(lease, lease + Duration::seconds(10), 5)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
}

async fn scoped_to_producer_and_document(repo: Arc<dyn Repository>) {
    let t = now();
    let new = delivery(t);
    repo.insert_delivery(&new, &recipients(&new, 2))
        .await
        .unwrap();
    let other = ProducerId::random();
    assert!(
        repo.delivery(&other, &new.document_id, &new.id)
            .await
            .unwrap()
            .is_none()
    );
    let doc = DocumentId::random();
    assert!(
        repo.delivery(&new.producer_id, &doc, &new.id)
            .await
            .unwrap()
            .is_none()
    );
    let unknown = DocumentId::random();
    assert!(
        repo.delivery(&new.producer_id, &new.document_id, &unknown)
            .await
            .unwrap()
            .is_none()
    );
    // Taken ids conflict instead of merging two deliveries' jobs.
    assert!(matches!(
        repo.insert_delivery(&new, &[]).await,
        Err(schema::RepoError::Conflict {
            what: schema::repo::UniqueKey::DeliveryId
        })
    ));
}

async fn concurrent_claims_are_disjoint(repo: Arc<dyn Repository>) {
    let t = now();
    let new = delivery(t);
    repo.insert_delivery(&new, &recipients(&new, 2500))
        .await
        .unwrap();
    let lease = t + Duration::seconds(60);
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                loop {
                    let jobs = repo.claim_delivery_jobs(t, lease, 100).await.unwrap();
                    if jobs.is_empty() {
                        return seqs;
                    }
                    seqs.extend(jobs.iter().map(|j| j.seq));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for claim in claims {
        for seq in claim.await.unwrap() {
            assert!(seen.insert(seq), "job {seq} claimed twice");
        }
    }
    assert_eq!(seen.len(), 2500);
}

async fn finished_job_stays_finished(repo: Arc<dyn Repository>) {
    let t = now();
    let new = delivery(t);
    repo.insert_delivery(&new, &recipients(&new, 2))
        .await
        .unwrap();
    repo.claim_delivery_jobs(t, t, 5).await.unwrap();
    assert!(finish(repo.as_ref(), &new.id, 0, JobOutcome::Sent, t).await);
    // A second worker (after a lease ran out) cannot undo or double-count it.
    let failed = JobOutcome::Failed("late".into());
    assert!(!finish(repo.as_ref(), &new.id, 0, failed.clone(), t).await);
    let status = repo
        .delivery(&new.producer_id, &new.document_id, &new.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.recipients[0].status, JobStatus::Sent);
    assert!(status.holds_secrets, "job 1 is still queued");
    assert!(finish(repo.as_ref(), &new.id, 1, failed, t).await);
    let status = repo
        .delivery(&new.producer_id, &new.document_id, &new.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!status.holds_secrets);
}

async fn a_batch_of_outcomes_in_one_call(repo: Arc<dyn Repository>) {
    let t = now();
    let new = delivery(t);
    repo.insert_delivery(&new, &recipients(&new, 3))
        .await
        .unwrap();
    repo.claim_delivery_jobs(t, t, 5).await.unwrap();
    let job = |seq, outcome| FinishedJob {
        delivery_id: new.id.clone(),
        seq,
        outcome,
    };
    let done = repo
        .finish_delivery_jobs(
            &[
                job(0, JobOutcome::Sent),
                job(1, JobOutcome::Sent),
                job(1, JobOutcome::Failed("twice in one batch".into())),
                job(2, JobOutcome::Failed("final".into())),
            ],
            t,
        )
        .await
        .unwrap();
    assert_eq!(done, [true, true, false, true]);
    let status = repo
        .delivery(&new.producer_id, &new.document_id, &new.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!status.holds_secrets, "all three finished: secrets wiped");
    let states: Vec<_> = status.recipients.iter().map(|r| r.status).collect();
    assert_eq!(
        states,
        [JobStatus::Sent, JobStatus::Sent, JobStatus::Failed]
    );
}
