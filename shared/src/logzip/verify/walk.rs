//! One log's lines against its chain file: the first bad record, named.
//!
//! Line *i* of `{log}.log` and line *i* of `{log}.chain` (`prev<TAB>chain`) must satisfy
//! `chain == SHA-256(prev ‖ "\n" ‖ line)`. In a whole-producer export each line's `prev` is the
//! previous line's `chain` (the first one's is the manifest's `firstPrev`); in a one-document
//! export the hit-number column runs on by one instead. A break is classified with one line of
//! look-ahead in each file:
//! - a line that matches the *next* chain entry lost the entry before it: removed;
//! - a line whose chain entry matches the *next* line is extra: inserted;
//! - a line whose `prev` is what the next line links to was slipped in between: inserted;
//! - two consecutive lines with the same `prev` fork: the first of them was inserted;
//! - otherwise a broken link is a removal and a bad hash an alteration.
//!
//! Memory is constant: two lines of look-ahead per file.

use std::collections::VecDeque;

use ring::digest::{Context, SHA256};
use schema::audit;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _};

use super::{RecordProblem, VerifyError};
use crate::logzip::hex;

/// Longer lines are treated as damage rather than read into memory.
const MAX_LINE: u64 = 1 << 20;

/// What the signed manifest says one log must look like.
pub(crate) struct Expect<'a> {
    pub file: &'a str,
    pub chain_file: &'a str,
    /// Whole-producer export: consecutive lines link.
    pub linked: bool,
    /// One-document export of a log with hit numbers: that column, which must run on by one.
    pub hit_column: Option<usize>,
    pub records: u64,
    pub first_prev: Option<&'a str>,
    pub head: Option<&'a str>,
}

/// What the walk measured, for the comparison with the manifest.
pub(crate) struct Walked {
    pub records: u64,
    pub log_sha256: String,
    pub chain_sha256: String,
}

/// A file read line by line, with look-ahead, hashing every byte read.
struct Lines<R> {
    reader: R,
    ahead: VecDeque<Vec<u8>>,
    digest: Context,
    eof: bool,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            ahead: VecDeque::new(),
            digest: Context::new(&SHA256),
            eof: false,
        }
    }

    /// Reads until `n` lines wait (or the end).
    async fn fill(&mut self, n: usize) -> std::io::Result<()> {
        while self.ahead.len() < n && !self.eof {
            let mut line = Vec::new();
            (&mut self.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .await?;
            if line.is_empty() {
                self.eof = true;
                break;
            }
            self.digest.update(&line);
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            self.ahead.push_back(line);
        }
        Ok(())
    }

    async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        self.fill(1).await?;
        Ok(self.ahead.pop_front())
    }

    /// The line after the one [`next`](Self::next) returned last.
    async fn peek(&mut self) -> std::io::Result<Option<&[u8]>> {
        self.fill(1).await?;
        Ok(self.ahead.front().map(Vec::as_slice))
    }

    /// Reads to the end and returns the SHA-256 of every byte.
    async fn finish(mut self) -> std::io::Result<String> {
        while self.next().await?.is_some() {}
        Ok(hex(self.digest.finish().as_ref()))
    }
}

/// `prev<TAB>chain`, `None` when malformed.
fn split_chain(line: &[u8]) -> Option<(&str, &str)> {
    std::str::from_utf8(line).ok()?.split_once('\t')
}

/// Whether `line` hashes to `chain` after `prev`.
fn links(prev: &str, line: &[u8], chain: &str) -> bool {
    std::str::from_utf8(line).is_ok_and(|line| audit::chain(prev, line) == chain)
}

fn hit_number(line: &[u8], column: usize) -> Option<u64> {
    let field = line.split(|b| *b == b'\t').nth(column)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

pub(crate) async fn walk<L, C>(log: L, chain: C, expect: &Expect<'_>) -> Result<Walked, VerifyError>
where
    L: AsyncBufRead + Unpin,
    C: AsyncBufRead + Unpin,
{
    let bad = |line: u64, problem: RecordProblem| VerifyError::Record {
        file: expect.file.to_owned(),
        line,
        problem,
    };
    let mut logs = Lines::new(log);
    let mut chains = Lines::new(chain);
    let mut last: Option<(String, String)> = None; // (prev, chain) of the previous line
    let mut last_hit: Option<u64> = None;
    let mut n = 0_u64;
    loop {
        let (line, entry) = (logs.next().await?, chains.next().await?);
        n += 1;
        let (line, entry) = match (line, entry) {
            (None, None) => break,
            (Some(_), None) => return Err(bad(n, RecordProblem::Inserted)),
            (None, Some(_)) => return Err(bad(n - 1, RecordProblem::RemovedAtEnd)),
            (Some(line), Some(entry)) => (line, entry),
        };
        let Some((prev, chain)) = split_chain(&entry) else {
            return Err(VerifyError::Record {
                file: expect.chain_file.to_owned(),
                line: n,
                problem: RecordProblem::Malformed,
            });
        };
        if prev.is_empty() && chain.is_empty() {
            return Err(bad(n, RecordProblem::Unchained));
        }
        if !links(prev, &line, chain) {
            let next_entry_matches = chains
                .peek()
                .await?
                .and_then(split_chain)
                .is_some_and(|(p, c)| links(p, &line, c));
            if next_entry_matches {
                return Err(bad(n, RecordProblem::Removed));
            }
            let next_line_matches = logs.peek().await?.is_some_and(|l| links(prev, l, chain));
            if next_line_matches {
                return Err(bad(n, RecordProblem::Inserted));
            }
            return Err(bad(n, RecordProblem::Altered));
        }
        let expected_prev = match &last {
            None => expect.first_prev,
            Some((_, last_chain)) if expect.linked => Some(last_chain.as_str()),
            Some(_) => None,
        };
        if let Some(expected) = expected_prev
            && prev != expected
        {
            let next_links_over = chains
                .peek()
                .await?
                .and_then(split_chain)
                .is_some_and(|(p, _)| p == expected);
            if next_links_over {
                return Err(bad(n, RecordProblem::Inserted));
            }
            if expect.linked && last.as_ref().is_some_and(|(p, _)| p == prev) {
                return Err(bad(n - 1, RecordProblem::Inserted));
            }
            return Err(bad(n, RecordProblem::Removed));
        }
        if let Some(column) = expect.hit_column {
            let hit = hit_number(&line, column).ok_or_else(|| bad(n, RecordProblem::Altered))?;
            match last_hit {
                Some(previous) if hit > previous + 1 => return Err(bad(n, RecordProblem::Removed)),
                Some(previous) if hit <= previous => return Err(bad(n, RecordProblem::Inserted)),
                _ => last_hit = Some(hit),
            }
        }
        last = Some((prev.to_owned(), chain.to_owned()));
    }
    let records = n - 1;
    let head = last.as_ref().map(|(_, chain)| chain.as_str());
    if head != expect.head {
        return Err(if records > expect.records {
            bad(expect.records + 1, RecordProblem::Inserted)
        } else {
            bad(records, RecordProblem::RemovedAtEnd)
        });
    }
    Ok(Walked {
        records,
        log_sha256: logs.finish().await?,
        chain_sha256: chains.finish().await?,
    })
}

#[cfg(test)]
mod tests;
