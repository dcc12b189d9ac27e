//! Uploads to a local store, written around the page cache.
//!
//! `object_store`'s local multipart upload writes each part through the page cache and calls
//! `fsync` once at the end. perf on 256 MiB curl uploads put the kernel's copy into the page
//! cache (`copy_folio_from_iter_atomic`, with the page allocations of a new file on this VM) at
//! ~30 % of the server's samples, and the final `fsync` then waited ~0.11 s for the whole
//! write-back, overlapped with nothing. Here the staging file is opened with `O_DIRECT` where
//! the file system allows it: each buffer of ciphertext goes from our memory to the device
//! while the request's task seals the next one, so there is no copy, no dirty page and almost
//! nothing left for the final `fsync` to wait for.
//!
//! What `O_DIRECT` needs, and how it is met without `unsafe`: every write starts at a file
//! offset, a memory address and a length that are multiples of [`ALIGN`]. Buffers come from
//! [`aligned_buffer`] (an allocation entered at its first aligned byte); each write takes the
//! aligned prefix of what was sealed and carries the rest (< 4 KiB) into the next buffer; the
//! last write is padded with zeros and the file cut back to its true length. A file system that
//! refuses `O_DIRECT` (tmpfs before Linux 6.6, some network file systems) gets the same aligned
//! writes through the page cache.
//!
//! Durability is unchanged: the object only counts as written once its data is `fsync`ed
//! (`File::sync_all` after the last write and the cut), renamed from its staging name
//! (`<key>#<n>`, which the sweep removes after a crash) to its key, and its directory `fsync`ed;
//! every directory created on the way is `fsync`ed in its parent. `O_DIRECT` alone promises
//! nothing about the device's cache or the file's metadata, so the `fsync` stays.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::task::JoinHandle;

use crate::error::VaultError;

/// Alignment of every direct write (offset, address, length): the largest logical block size
/// of common devices, a multiple of the others.
pub(crate) const ALIGN: usize = 4096;
/// Ciphertext gathered before a write: large enough that the device sees few, large requests
/// (a 1 MiB direct write runs at ~1.3-1.6 GB/s here, as fast as `dd` with 4 MiB blocks).
pub(crate) const FLUSH_AT: usize = 1024 * 1024;
/// Room of each buffer: [`FLUSH_AT`], what one more piece of the body adds once sealed (the
/// multipart body hands over at most 64 KiB at a time; a larger piece costs one copy, below),
/// and the carried remainder.
const CAPACITY: usize = FLUSH_AT + 128 * 1024 + ALIGN;
/// Writes running at once. Memory: about `(WRITES_IN_FLIGHT + 1) * CAPACITY` per upload.
const WRITES_IN_FLIGHT: usize = 2;

/// An empty buffer of at least `capacity` bytes whose first byte is [`ALIGN`]-aligned.
pub(crate) fn aligned_buffer(capacity: usize) -> BytesMut {
    let mut buffer = BytesMut::with_capacity(capacity + ALIGN);
    let skip = buffer.as_ptr().align_offset(ALIGN).min(ALIGN);
    buffer.resize(skip, 0);
    buffer.advance(skip);
    buffer
}

fn is_aligned(bytes: &[u8]) -> bool {
    bytes.as_ptr().align_offset(ALIGN) == 0 && bytes.len().is_multiple_of(ALIGN)
}

/// One object being written to `<root>/<location>`, under its staging name until
/// [`finish`](Self::finish). Dropped unfinished, its staging file is removed (in a blocking
/// task); a crash leaves it to the sweep.
pub(crate) struct LocalWriter {
    file: Arc<File>,
    staging: PathBuf,
    dest: PathBuf,
    /// Where the next write goes (always a multiple of [`ALIGN`]).
    offset: u64,
    writes: VecDeque<JoinHandle<io::Result<()>>>,
    /// Whether the staging file is gone (renamed or removed).
    closed: bool,
}

impl LocalWriter {
    /// Creates the staging file of `dest` (and any missing directory, each `fsync`ed in its
    /// parent) and asks for direct I/O on it.
    pub(crate) async fn create(dest: PathBuf) -> Result<Self, VaultError> {
        let (file, staging) = blocking(&dest, {
            let dest = dest.clone();
            move || create_staging(&dest)
        })
        .await?;
        Ok(Self {
            file: Arc::new(file),
            staging,
            dest,
            offset: 0,
            writes: VecDeque::new(),
            closed: false,
        })
    }

    /// A fresh buffer for the sealed bytes of the next write.
    pub(crate) fn buffer() -> BytesMut {
        aligned_buffer(CAPACITY)
    }

    /// Writes the aligned prefix of `out`; `out` becomes a fresh buffer holding the rest.
    pub(crate) async fn send(&mut self, out: &mut BytesMut) -> Result<(), VaultError> {
        let whole = out.len() - out.len() % ALIGN;
        if whole == 0 {
            return Ok(());
        }
        let mut next = Self::buffer();
        next.extend_from_slice(&out[whole..]);
        out.truncate(whole);
        let ready = std::mem::replace(out, next).freeze();
        self.write(ready).await
    }

    /// Writes what is left of `out` (padded to [`ALIGN`], the file then cut back), waits for
    /// every write, `fsync`s the file, renames it to its key and `fsync`s the directory.
    pub(crate) async fn finish(mut self, mut out: BytesMut) -> Result<(), VaultError> {
        let size = self.offset + out.len() as u64;
        if !out.is_empty() {
            out.resize(out.len().next_multiple_of(ALIGN), 0);
            self.write(out.freeze()).await?;
        }
        while let Some(write) = self.writes.pop_front() {
            self.wait(write).await?;
        }
        let (file, staging, dest) = (
            Arc::clone(&self.file),
            self.staging.clone(),
            self.dest.clone(),
        );
        blocking(&self.dest, move || publish(&file, size, &staging, &dest)).await?;
        self.closed = true;
        Ok(())
    }

    /// Removes the staging file now (the error path, which can wait for it).
    pub(crate) async fn abort(mut self) {
        self.closed = true;
        let staging = self.staging.clone();
        if let Err(error) = blocking(&self.staging, move || remove(&staging)).await {
            tracing::warn!(error = %error, "could not remove an upload's staging file; the next sweep will");
        }
    }

    /// Starts writing `bytes` at the current offset, first waiting until fewer than
    /// [`WRITES_IN_FLIGHT`] writes run (the back-pressure that bounds memory).
    async fn write(&mut self, mut bytes: Bytes) -> Result<(), VaultError> {
        if !is_aligned(&bytes) {
            // Only when one piece of the body outgrew the buffer's room and it moved.
            let mut copy = aligned_buffer(bytes.len());
            copy.extend_from_slice(&bytes);
            bytes = copy.freeze();
        }
        while self.writes.len() >= WRITES_IN_FLIGHT {
            if let Some(write) = self.writes.pop_front() {
                self.wait(write).await?;
            }
        }
        let (file, offset) = (Arc::clone(&self.file), self.offset);
        self.offset += bytes.len() as u64;
        let write = tokio::task::spawn_blocking(move || file.write_all_at(&bytes, offset));
        self.writes.push_back(write);
        Ok(())
    }

    async fn wait(&self, write: JoinHandle<io::Result<()>>) -> Result<(), VaultError> {
        let written = write.await.map_err(|_| VaultError::Task)?;
        written.map_err(|source| VaultError::Io {
            path: self.staging.clone(),
            source,
        })
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let staging = std::mem::take(&mut self.staging);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || remove(&staging))),
            Err(_) => drop(remove(&staging)),
        }
    }
}

/// Runs `work` on the blocking pool; its I/O errors name `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, VaultError> {
    let done = tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| VaultError::Task)?;
    done.map_err(|source| VaultError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Opens `<dest>#<n>` for the first `n` not taken (the sweep's staging name), creating its
/// directories; then turns direct I/O on where the file system supports it.
fn create_staging(dest: &Path) -> io::Result<(File, PathBuf)> {
    if let Some(parent) = dest.parent() {
        create_dirs(parent)?;
    }
    for n in 1u32.. {
        let mut staging = dest.as_os_str().to_owned();
        staging.push(format!("#{n}"));
        let staging = PathBuf::from(staging);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(file) => {
                direct_io(&file);
                return Ok((file, staging));
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::other("no free staging name"))
}

/// Asks for `O_DIRECT`; a file system that refuses it keeps the page cache (same writes).
#[cfg(target_os = "linux")]
fn direct_io(file: &File) {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let enabled = fcntl_getfl(file).and_then(|flags| fcntl_setfl(file, flags | OFlags::DIRECT));
    if let Err(error) = enabled {
        tracing::debug!(error = %error, "no direct I/O on this file system; writing through the page cache");
    }
}

#[cfg(not(target_os = "linux"))]
fn direct_io(_file: &File) {}

/// Creates `dir` and its missing ancestors, `fsync`ing the parent of each one created, so a
/// power cut cannot take back a directory that a published object's path runs through.
fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut next = Some(dir);
    while let Some(path) = next.filter(|path| !path.exists()) {
        missing.push(path);
        next = path.parent();
    }
    std::fs::create_dir_all(dir)?;
    for created in missing.into_iter().rev() {
        if let Some(parent) = created.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

/// Cuts the padding off, `fsync`s the data, renames the staging file to `dest` and `fsync`s
/// the directory: only then is the object durable under its key.
fn publish(file: &File, size: u64, staging: &Path, dest: &Path) -> io::Result<()> {
    file.set_len(size)?;
    file.sync_all()?;
    std::fs::rename(staging, dest)?;
    match dest.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// Removes a staging file; one already gone is not an error.
fn remove(staging: &Path) -> io::Result<()> {
    match std::fs::remove_file(staging) {
        Err(error) if error.kind() != ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buffers_start_aligned() {
        for capacity in [0, 1, ALIGN, CAPACITY] {
            let buffer = aligned_buffer(capacity);
            assert!(buffer.is_empty());
            assert!(buffer.capacity() >= capacity);
            assert_eq!(buffer.as_ptr().align_offset(ALIGN), 0);
        }
    }

    #[tokio::test]
    async fn writes_every_byte_and_only_publishes_on_finish() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("objects/ab/abc");
        let data: Vec<u8> = (0..3 * FLUSH_AT + 12_345)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut writer = LocalWriter::create(dest.clone()).await.unwrap();
        let mut out = LocalWriter::buffer();
        for piece in data.chunks(70_000) {
            out.extend_from_slice(piece);
            if out.len() >= FLUSH_AT {
                writer.send(&mut out).await.unwrap();
                assert_eq!(out.as_ptr().align_offset(ALIGN), 0);
            }
        }
        assert!(!dest.exists());
        writer.finish(out).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "the staging file is gone");
    }

    #[tokio::test]
    async fn an_aborted_or_dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("objects/ab/abc");
        let mut writer = LocalWriter::create(dest.clone()).await.unwrap();
        let mut out = LocalWriter::buffer();
        out.extend_from_slice(&[7; 3 * ALIGN + 5]);
        writer.send(&mut out).await.unwrap();
        writer.abort().await;
        let writer = LocalWriter::create(dest.clone()).await.unwrap();
        drop(writer);
        for _ in 0..100 {
            if std::fs::read_dir(dest.parent().unwrap()).unwrap().count() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("a staging file was left behind");
    }
}
