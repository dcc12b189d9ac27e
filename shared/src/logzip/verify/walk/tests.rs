#![allow(clippy::unwrap_used)]

use schema::audit::{GENESIS, chain};

use super::*;

/// `n` chained lines of one producer; every other line names document `D` with hit numbers
/// 1, 2, 3, … in column 7 (the others name `E`).
fn chained(n: usize) -> Vec<(String, String, String)> {
    let mut prev = GENESIS.to_owned();
    let (mut d, mut e) = (0, 0);
    (0..n)
        .map(|i| {
            let (doc, hit) = if i % 2 == 0 {
                d += 1;
                ("D", d)
            } else {
                e += 1;
                ("E", e)
            };
            let line = format!("{doc}\tt\tt\t127.0.0.1\tGET\t/x/{i}\t200\t{hit}\tp");
            let link = chain(&prev, &line);
            let row = (line, prev.clone(), link.clone());
            prev = link;
            row
        })
        .collect()
}

fn files(rows: &[(String, String, String)]) -> (Vec<u8>, Vec<u8>) {
    let mut log = String::new();
    let mut chains = String::new();
    for (line, prev, link) in rows {
        log.push_str(&format!("{line}\n"));
        chains.push_str(&format!("{prev}\t{link}\n"));
    }
    (log.into_bytes(), chains.into_bytes())
}

/// Walks files tampered after export against the manifest of the untampered `rows`.
async fn check(
    rows: &[(String, String, String)],
    log: &[u8],
    chains: &[u8],
    one_document: bool,
) -> Result<u64, (u64, RecordProblem)> {
    let expect = Expect {
        file: "api.log",
        chain_file: "api.chain",
        linked: !one_document,
        hit_column: one_document.then_some(7),
        records: rows.len() as u64,
        first_prev: rows.first().map(|r| r.1.as_str()),
        head: rows.last().map(|r| r.2.as_str()),
    };
    match walk(log, chains, &expect).await {
        Ok(walked) => Ok(walked.records),
        Err(VerifyError::Record { line, problem, .. }) => Err((line, problem)),
        Err(other) => panic!("{other}"),
    }
}

fn without(rows: &[(String, String, String)], index: usize) -> Vec<(String, String, String)> {
    let mut rows = rows.to_vec();
    rows.remove(index);
    rows
}

#[tokio::test]
async fn an_intact_log_verifies() {
    let rows = chained(6);
    let (log, chains) = files(&rows);
    assert_eq!(check(&rows, &log, &chains, false).await, Ok(6));
    assert_eq!(check(&[], b"", b"", false).await, Ok(0));
}

#[tokio::test]
async fn a_flipped_byte_is_an_alteration() {
    let rows = chained(6);
    let (mut log, chains) = files(&rows);
    let third = rows[0].0.len() + rows[1].0.len() + 2 + 3;
    log[third] ^= 0x01;
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((3, RecordProblem::Altered))
    );
}

#[tokio::test]
async fn removals_are_found_in_both_files_or_in_the_log_alone() {
    let rows = chained(6);
    let (log, chains) = files(&without(&rows, 2));
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((3, RecordProblem::Removed))
    );
    let (_, all_chains) = files(&rows);
    assert_eq!(
        check(&rows, &log, &all_chains, false).await,
        Err((3, RecordProblem::Removed))
    );
    let (log, chains) = files(&without(&rows, 0));
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((1, RecordProblem::Removed))
    );
    let (log, chains) = files(&rows[..5]);
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((5, RecordProblem::RemovedAtEnd))
    );
}

#[tokio::test]
async fn insertions_are_found_linked_or_not() {
    let rows = chained(6);
    let extra = "D\tt\tt\t10.0.0.1\tGET\t/forged\t200\t9\tp".to_owned();
    // Linked to line 2, as a careful forger would.
    let mut forged = rows.clone();
    let prev = rows[1].2.clone();
    forged.insert(2, (extra.clone(), prev.clone(), chain(&prev, &extra)));
    let (log, chains) = files(&forged);
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((3, RecordProblem::Inserted))
    );
    // With a made-up prev.
    let mut forged = rows.clone();
    forged.insert(
        2,
        (extra.clone(), GENESIS.to_owned(), chain(GENESIS, &extra)),
    );
    let (log, chains) = files(&forged);
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((3, RecordProblem::Inserted))
    );
    // In the log alone.
    let (_, chains) = files(&rows);
    let mut lines: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    lines.insert(2, &extra);
    let log = format!("{}\n", lines.join("\n"));
    assert_eq!(
        check(&rows, log.as_bytes(), &chains, false).await,
        Err((3, RecordProblem::Inserted))
    );
    // Appended after the head.
    let mut forged = rows.clone();
    let prev = rows[5].2.clone();
    forged.push((extra.clone(), prev.clone(), chain(&prev, &extra)));
    let (log, chains) = files(&forged);
    assert_eq!(
        check(&rows, &log, &chains, false).await,
        Err((7, RecordProblem::Inserted))
    );
}

#[tokio::test]
async fn one_document_exports_check_hit_numbers() {
    let all = chained(9);
    let rows: Vec<_> = all.iter().step_by(2).cloned().collect(); // D: hits 1..=5
    let (log, chains) = files(&rows);
    assert_eq!(check(&rows, &log, &chains, true).await, Ok(5));
    let (log, chains) = files(&without(&rows, 2));
    assert_eq!(
        check(&rows, &log, &chains, true).await,
        Err((3, RecordProblem::Removed))
    );
    let mut repeated = rows.clone();
    repeated.insert(3, rows[2].clone());
    let (log, chains) = files(&repeated);
    assert_eq!(
        check(&rows, &log, &chains, true).await,
        Err((4, RecordProblem::Inserted))
    );
}

#[tokio::test]
async fn unchained_and_malformed_lines_are_named() {
    let rows = chained(3);
    let (log, _) = files(&rows);
    let chains = format!(
        "{}\t{}\n\t\n{}\t{}\n",
        rows[0].1, rows[0].2, rows[2].1, rows[2].2
    );
    assert_eq!(
        check(&rows, &log, chains.as_bytes(), false).await,
        Err((2, RecordProblem::Unchained))
    );
    let chains = format!("{}\t{}\nnonsense\n", rows[0].1, rows[0].2);
    let expect_file = match walk(
        &log[..],
        chains.as_bytes(),
        &Expect {
            file: "api.log",
            chain_file: "api.chain",
            linked: true,
            hit_column: None,
            records: 3,
            first_prev: Some(GENESIS),
            head: Some(&rows[2].2),
        },
    )
    .await
    {
        Err(VerifyError::Record {
            file,
            line: 2,
            problem: RecordProblem::Malformed,
        }) => file,
        other => panic!("{:?}", other.map(|w| w.records)),
    };
    assert_eq!(expect_file, "api.chain");
}
