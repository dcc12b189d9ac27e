//! The audit logs (API, gateway, vault) together: the API log's hit numbers and columns, the
//! hash chains of every log, streamed export and retention.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, TryStreamExt};
use schema::audit::{GENESIS, chain};
use schema::{
    ApiLogRecord, DocumentId, DocumentRecord, GatewayLogRecord, LogKind, LogLine, ProducerId,
    PurgedLines, Repository, VaultLogRecord,
};

use crate::fixtures::{at, now, stored_document};

conformance!(
    api_log_numbers_hits_and_has_ten_columns,
    every_log_chains_per_producer,
    concurrent_appends_never_fork_a_chain,
    export_is_ordered_and_scoped,
    export_streams_twenty_thousand_lines,
    purge_keeps_heads_documents_and_other_logs,
);

/// One record of any log: `text` becomes the API / gateway head (or the vault line).
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) producer: Option<ProducerId>,
    pub(crate) document: Option<DocumentId>,
    pub(crate) time: DateTime<Utc>,
    pub(crate) text: String,
}

pub(crate) fn entry(doc: Option<&DocumentRecord>, time: DateTime<Utc>, text: &str) -> Entry {
    Entry {
        producer: doc.map(|d| d.producer_id.clone()),
        document: doc.map(|d| d.id.clone()),
        time,
        text: text.to_owned(),
    }
}

pub(crate) const OPERATOR: &str = "op@example.com";

/// Appends `entries` to the `kind` log in one batch; the hit numbers (`None` for the vault).
pub(crate) async fn append(
    repo: &dyn Repository,
    kind: LogKind,
    entries: &[Entry],
) -> Vec<Option<i64>> {
    match kind {
        LogKind::Api => {
            let records: Vec<ApiLogRecord> = entries
                .iter()
                .map(|e| ApiLogRecord {
                    producer_id: e.producer.clone(),
                    document_id: e.document.clone(),
                    time: e.time,
                    head: e.text.clone(),
                    tail: OPERATOR.to_owned(),
                })
                .collect();
            repo.append_api_log(&records).await.unwrap()
        }
        LogKind::Gateway => {
            let records: Vec<GatewayLogRecord> = entries
                .iter()
                .map(|e| GatewayLogRecord {
                    producer_id: e.producer.clone(),
                    document_id: e.document.clone(),
                    time: e.time,
                    head: e.text.clone(),
                })
                .collect();
            repo.append_gateway_log(&records).await.unwrap()
        }
        LogKind::Vault => {
            let records: Vec<VaultLogRecord> = entries
                .iter()
                .map(|e| VaultLogRecord {
                    producer_id: e.producer.clone(),
                    document_id: e.document.clone(),
                    time: e.time,
                    fields: e.text.clone(),
                })
                .collect();
            repo.append_vault_log(&records).await.unwrap();
            vec![None; records.len()]
        }
    }
}

pub(crate) async fn export(
    repo: &dyn Repository,
    kind: LogKind,
    producer: &ProducerId,
    document: Option<&DocumentId>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<LogLine> {
    repo.export_log(
        kind,
        &schema::Tenant::live(producer.clone()),
        document,
        from,
        to,
    )
    .try_collect()
    .await
    .unwrap()
}

/// Every line of the producer's chain in `kind`, whatever its time.
pub(crate) async fn whole_chain(
    repo: &dyn Repository,
    kind: LogKind,
    producer: &ProducerId,
) -> Vec<LogLine> {
    export(repo, kind, producer, None, at(0), at(32_503_680_000_000)).await
}

/// Each line's chain is recomputable from its `prev` and `fields`, and each `prev` is the
/// previous line's chain (`first_prev` for the first).
pub(crate) fn assert_chained<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    first_prev: &str,
) {
    let mut expected = first_prev.to_owned();
    for (i, (prev, value, fields)) in pairs.into_iter().enumerate() {
        assert_eq!(prev, expected, "line {i}: prev is not the previous chain");
        assert_eq!(
            value,
            chain(prev, fields),
            "line {i}: chain does not recompute"
        );
        assert_eq!(value.len(), 64);
        expected = value.to_owned();
    }
}

pub(crate) fn assert_lines_chained(lines: &[LogLine], first_prev: &str) {
    assert_chained(
        lines
            .iter()
            .map(|l| (l.prev.as_str(), l.chain.as_str(), l.fields.as_str())),
        first_prev,
    );
    assert!(lines.windows(2).all(|w| w[0].seq < w[1].seq), "seq order");
}

fn first_columns(lines: &[LogLine]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.fields.split('\t').next().unwrap().to_owned())
        .collect()
}

async fn api_log_numbers_hits_and_has_ten_columns(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    let t = now();
    let head = |doc: &str| {
        format!(
            "{doc}\t2024-01-01T00:00:00.000Z\t2024-01-01T00:00:00.000Z\t192.0.2.1\tGET\t/documents/x?a=b\t200"
        )
    };
    // The gateway log's counter is another one: it must not move the API numbers.
    append(&*repo, LogKind::Gateway, &[entry(Some(&a), t, "g")]).await;
    assert_eq!(
        append(
            &*repo,
            LogKind::Api,
            &[
                entry(Some(&a), t, &head(a.id.as_str())),
                entry(None, t, &head("-")),
                entry(Some(&b), t, &head(b.id.as_str())),
                entry(Some(&a), t, &head(a.id.as_str())),
            ],
        )
        .await,
        [Some(1), None, Some(1), Some(2)]
    );
    assert_eq!(
        append(
            &*repo,
            LogKind::Api,
            &[entry(Some(&a), t, &head(a.id.as_str()))]
        )
        .await,
        [Some(3)]
    );
    assert_eq!(append(&*repo, LogKind::Api, &[]).await, []);

    let lines = whole_chain(&*repo, LogKind::Api, &a.producer_id).await;
    let fields: Vec<&str> = lines.iter().map(|l| l.fields.as_str()).collect();
    let pa = a.producer_id.as_str();
    assert_eq!(
        fields,
        [1, 2, 3].map(|hit| format!("{}\t{hit}\t{pa}\t{OPERATOR}", head(a.id.as_str())))
    );
    assert!(fields.iter().all(|f| f.split('\t').count() == 10));
    assert_eq!(lines[0].document_id.as_ref(), Some(&a.id));
    assert_eq!(lines[0].producer_id.as_ref(), Some(&a.producer_id));
    assert_eq!(lines[0].time, t);

    // A record without a document still names its producer; its hit-number is "-".
    let record = Entry {
        producer: Some(b.producer_id.clone()),
        ..entry(None, t, &head("-"))
    };
    assert_eq!(append(&*repo, LogKind::Api, &[record]).await, [None]);
    let bob = whole_chain(&*repo, LogKind::Api, &b.producer_id).await;
    assert_eq!(
        bob[1].fields,
        format!("{}\t-\t{}\t{OPERATOR}", head("-"), b.producer_id)
    );
    assert_eq!(bob[1].document_id, None);
}

async fn every_log_chains_per_producer(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    let t = now();
    for kind in LogKind::ALL {
        for round in 0..3 {
            let text = |who: &str| format!("{who}-{round}\tx\\ty");
            append(
                &*repo,
                kind,
                &[
                    entry(Some(&a), t, &text("a")),
                    entry(None, t, &text("junk")),
                    entry(Some(&b), t, &text("b")),
                    entry(Some(&a), t, &text("a2")),
                ],
            )
            .await;
        }
        for (doc, count) in [(&a, 6), (&b, 3)] {
            let lines = whole_chain(&*repo, kind, &doc.producer_id).await;
            assert_eq!(lines.len(), count, "{kind:?}");
            assert_lines_chained(&lines, GENESIS);
        }
    }
    // Every log has its own chains: the same lines in another log start at the genesis too.
    let api = whole_chain(&*repo, LogKind::Api, &a.producer_id).await;
    let gateway = whole_chain(&*repo, LogKind::Gateway, &a.producer_id).await;
    assert_eq!(
        (api[0].prev.as_str(), gateway[0].prev.as_str()),
        (GENESIS, GENESIS)
    );
}

async fn concurrent_appends_never_fork_a_chain(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    let t = now();
    let mut tasks = Vec::new();
    for kind in LogKind::ALL {
        for i in 0..16 {
            let repo = repo.clone();
            let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            let batch = vec![
                entry(Some(first), t, &format!("{i}-1")),
                entry(Some(second), t, &format!("{i}-2")),
                entry(None, t, &format!("{i}-3")),
                entry(Some(first), t, &format!("{i}-4")),
            ];
            tasks.push(tokio::spawn(async move {
                append(&*repo, kind, &batch).await;
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for kind in LogKind::ALL {
        for doc in [&a, &b] {
            let lines = whole_chain(&*repo, kind, &doc.producer_id).await;
            // Half the batches hold two of this producer's records, half one.
            assert_eq!(lines.len(), 24, "{kind:?}");
            assert_lines_chained(&lines, GENESIS);
        }
        // The numbered logs still count gap-free.
        if kind != LogKind::Vault {
            let mut hits: Vec<i64> = whole_chain(&*repo, kind, &a.producer_id)
                .await
                .iter()
                .map(|l| l.fields.split('\t').nth(1).unwrap().parse().unwrap())
                .collect();
            hits.sort_unstable();
            assert_eq!(hits, (1..=24).collect::<Vec<i64>>(), "{kind:?}");
        }
    }
}

async fn export_is_ordered_and_scoped(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    // A second document of alice's.
    let a2 = DocumentRecord {
        id: DocumentId::random(),
        placeholder_id: schema::PlaceholderId::random(),
        object_key: {
            let object = crate::fixtures::pending_object(now());
            repo.insert_object(&object).await.unwrap();
            object.key
        },
        ..a.clone()
    };
    repo.insert_document(&a2).await.unwrap();
    let t0 = at(1_700_000_000_000);
    let s = |seconds| t0 + Duration::seconds(seconds);
    for kind in LogKind::ALL {
        append(
            &*repo,
            kind,
            &[
                entry(Some(&a), s(2), "a-late"),
                entry(Some(&a), s(1), "a-early"),
                entry(Some(&b), s(1), "b"),
                entry(None, s(1), "junk"),
                entry(Some(&a2), s(1), "a2"),
            ],
        )
        .await;
        append(&*repo, kind, &[entry(Some(&a), s(5), "a-outside")]).await;
        let pa = &a.producer_id;
        let all = export(&*repo, kind, pa, None, t0, s(2)).await;
        assert_eq!(
            first_columns(&all),
            ["a-late", "a-early", "a2"],
            "{kind:?}: write order"
        );
        assert_eq!(
            first_columns(&export(&*repo, kind, pa, None, s(1), s(1)).await),
            ["a-early", "a2"],
            "{kind:?}: both ends inclusive"
        );
        assert_eq!(
            first_columns(&export(&*repo, kind, pa, Some(&a.id), s(1), s(5)).await),
            ["a-late", "a-early", "a-outside"],
            "{kind:?}: one document"
        );
        assert!(
            export(&*repo, kind, pa, Some(&b.id), t0, s(9))
                .await
                .is_empty(),
            "{kind:?}: another producer's document"
        );
        assert!(
            export(&*repo, kind, &ProducerId::random(), None, t0, s(9))
                .await
                .is_empty()
        );
        assert!(export(&*repo, kind, pa, None, s(3), s(4)).await.is_empty());
        assert_lines_chained(&export(&*repo, kind, pa, None, t0, s(9)).await, GENESIS);
    }
    // Deleting a document keeps its lines.
    repo.delete_document(&a.producer_id, &a.id).await.unwrap();
    assert_eq!(
        export(&*repo, LogKind::Api, &a.producer_id, Some(&a.id), t0, s(9))
            .await
            .len(),
        3
    );
}

async fn export_streams_twenty_thousand_lines(repo: Arc<dyn Repository>) {
    const TOTAL: usize = 20_000;
    let a = stored_document(&*repo, "alice").await;
    let t0 = at(1_700_000_000_000);
    for batch in 0..20 {
        let entries: Vec<Entry> = (0..TOTAL / 20)
            .map(|i| {
                let n = batch * (TOTAL / 20) + i;
                let ms = i64::try_from(n).unwrap();
                entry(
                    Some(&a),
                    t0 + Duration::milliseconds(ms),
                    &format!("line {n}"),
                )
            })
            .collect();
        append(&*repo, LogKind::Api, &entries).await;
    }
    // Read line by line, keeping only the previous one: never the whole export at once.
    let tenant = schema::Tenant::live(a.producer_id.clone());
    let mut stream = repo.export_log(LogKind::Api, &tenant, None, t0, t0 + Duration::days(1));
    let mut count = 0;
    let mut expected_prev = GENESIS.to_owned();
    let mut last_seq = i64::MIN;
    while let Some(line) = stream.next().await {
        let line = line.unwrap();
        assert_eq!(line.prev, expected_prev, "line {count}");
        assert!(line.seq > last_seq);
        assert!(line.fields.starts_with(&format!("line {count}\t")));
        expected_prev = line.chain;
        last_seq = line.seq;
        count += 1;
    }
    drop(stream);
    assert_eq!(count, TOTAL);

    // Retention in several chunks.
    assert_eq!(
        repo.purge_log_before(LogKind::Api, t0 + Duration::days(1))
            .await
            .unwrap(),
        PurgedLines::from([(Some(a.producer_id.clone()), u64::try_from(TOTAL).unwrap())])
    );
    assert!(
        whole_chain(&*repo, LogKind::Api, &a.producer_id)
            .await
            .is_empty()
    );
}

async fn purge_keeps_heads_documents_and_other_logs(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let t0 = at(1_700_000_000_000);
    let s = |seconds| t0 + Duration::seconds(seconds);
    for kind in LogKind::ALL {
        append(
            &*repo,
            kind,
            &[
                entry(Some(&a), s(1), "old"),
                entry(Some(&a), s(3), "new"),
                entry(Some(&a), s(2), "edge"),
                entry(None, s(1), "junk"),
            ],
        )
        .await;
    }
    let before = whole_chain(&*repo, LogKind::Gateway, &a.producer_id).await;
    // Strictly older than `before`: the line at s(2) stays. Counted per producer, lines of no
    // producer apart.
    assert_eq!(
        repo.purge_log_before(LogKind::Gateway, s(2)).await.unwrap(),
        PurgedLines::from([(None, 1), (Some(a.producer_id.clone()), 1)])
    );
    assert!(
        repo.purge_log_before(LogKind::Gateway, s(2))
            .await
            .unwrap()
            .is_empty()
    );
    let after = whole_chain(&*repo, LogKind::Gateway, &a.producer_id).await;
    assert_eq!(first_columns(&after), ["new", "edge"]);
    // The first remaining line chains from the purged one.
    assert_eq!(after[0].prev, before[0].chain);
    assert_lines_chained(&after, &before[0].chain);

    // The head stays: a new line chains on from the last one, and hit numbers go on.
    assert_eq!(
        append(&*repo, LogKind::Gateway, &[entry(Some(&a), s(4), "later")]).await,
        [Some(4)]
    );
    let later = whole_chain(&*repo, LogKind::Gateway, &a.producer_id).await;
    assert_eq!(later[2].prev, after[1].chain);
    assert_lines_chained(&later, &before[0].chain);

    // The other logs and the document are untouched.
    for kind in [LogKind::Api, LogKind::Vault] {
        assert_eq!(whole_chain(&*repo, kind, &a.producer_id).await.len(), 3);
    }
    assert!(
        repo.document(&schema::Tenant::live(a.producer_id.clone()), &a.id)
            .await
            .unwrap()
            .is_some()
    );
    // The old accessors see the purge too.
    assert_eq!(
        repo.gateway_log(None, None, t0, s(9)).await.unwrap().len(),
        3
    );
}
