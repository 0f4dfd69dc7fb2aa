//! The layout of snapshot files: the file header and the chunks (specified for other tools in
//! `docs/snapshot-format.md`). The event records inside the chunks are laid out as the
//! recorder keeps them (`recorder/layout.rs`).
//!
//! Everything is little-endian.

use std::io::{self, Write};

pub(crate) use crate::recorder::layout::*;

/// First bytes of a snapshot file.
pub(crate) const FILE_MAGIC: &[u8; 8] = b"TTLOGSNP";
/// The snapshot format version this crate writes and reads.
pub(crate) const FORMAT_VERSION: u16 = 1;
/// Size of the file header: magic, version, header length, flags.
pub(crate) const FILE_HEADER: usize = 16;
/// First bytes of every chunk header, so a reader can find the next chunk after damage.
pub(crate) const CHUNK_MAGIC: &[u8; 4] = b"TTCK";
/// Size of a chunk header: magic, kind, codec, reserved, stored length, raw length, CRC-32.
pub(crate) const CHUNK_HEADER: usize = 20;
/// Chunks are cut once their raw body passes this size.
pub(crate) const CHUNK_TARGET: usize = 64 * 1024;
/// No chunk body may claim more than this (a reader's allocation bound).
pub(crate) const MAX_CHUNK_RAW: usize = 16 * 1024 * 1024;

pub(crate) const CHUNK_INFO: u8 = 1;
pub(crate) const CHUNK_CALLSITES: u8 = 2;
pub(crate) const CHUNK_THREADS: u8 = 3;
pub(crate) const CHUNK_EVENTS: u8 = 4;
pub(crate) const CHUNK_END: u8 = 5;

pub(crate) const CODEC_STORED: u8 = 0;
pub(crate) const CODEC_LZ4: u8 = 1;

/// Writes a snapshot file: the header, then chunks, then the end chunk.
pub(crate) struct SnapshotWriter<W: Write> {
    out: W,
    chunks: u32,
    events: u64,
    pending: Vec<u8>,
    pending_count: u32,
}

impl<W: Write> SnapshotWriter<W> {
    pub(crate) fn new(mut out: W) -> io::Result<SnapshotWriter<W>> {
        let mut header = Vec::with_capacity(FILE_HEADER);
        header.extend_from_slice(FILE_MAGIC);
        put_u16(&mut header, FORMAT_VERSION);
        put_u16(&mut header, FILE_HEADER as u16);
        put_u32(&mut header, 0);
        out.write_all(&header)?;
        Ok(SnapshotWriter {
            out,
            chunks: 0,
            events: 0,
            pending: Vec::with_capacity(CHUNK_TARGET + 1024),
            pending_count: 0,
        })
    }

    /// Writes the process information chunk.
    pub(crate) fn info(&mut self, pairs: &[(&str, impl AsRef<str>)]) -> io::Result<()> {
        let mut body = Vec::new();
        put_info(&mut body, pairs);
        self.chunk(CHUNK_INFO, &body)
    }

    /// Writes a table chunk (callsites or threads): `count` entries already encoded.
    pub(crate) fn table(&mut self, kind: u8, count: u32, entries: &[u8]) -> io::Result<()> {
        let mut body = Vec::with_capacity(entries.len() + 4);
        put_u32(&mut body, count);
        body.extend_from_slice(entries);
        self.chunk(kind, &body)
    }

    /// Adds one event record; full chunks are compressed and written as they fill.
    pub(crate) fn event(&mut self, record: &[u8]) -> io::Result<()> {
        put_u32(&mut self.pending, record.len() as u32);
        self.pending.extend_from_slice(record);
        self.pending_count += 1;
        self.events += 1;
        if self.pending.len() >= CHUNK_TARGET {
            self.flush_events()?;
        }
        Ok(())
    }

    fn flush_events(&mut self) -> io::Result<()> {
        if self.pending_count == 0 {
            return Ok(());
        }
        let mut body = Vec::with_capacity(self.pending.len() + 4);
        put_u32(&mut body, self.pending_count);
        body.extend_from_slice(&self.pending);
        self.pending.clear();
        self.pending_count = 0;
        self.chunk(CHUNK_EVENTS, &body)
    }

    fn chunk(&mut self, kind: u8, raw: &[u8]) -> io::Result<()> {
        let compressed;
        let (codec, stored) = if raw.len() >= 64 {
            compressed = lz4_flex::block::compress(raw);
            if compressed.len() < raw.len() {
                (CODEC_LZ4, &compressed[..])
            } else {
                (CODEC_STORED, raw)
            }
        } else {
            (CODEC_STORED, raw)
        };
        let mut header = Vec::with_capacity(CHUNK_HEADER);
        header.extend_from_slice(CHUNK_MAGIC);
        header.push(kind);
        header.push(codec);
        put_u16(&mut header, 0);
        put_u32(&mut header, stored.len() as u32);
        put_u32(&mut header, raw.len() as u32);
        put_u32(&mut header, crc32fast::hash(stored));
        self.out.write_all(&header)?;
        self.out.write_all(stored)?;
        self.chunks += 1;
        Ok(())
    }

    /// Writes the remaining events and the end chunk; returns the number of events.
    pub(crate) fn finish(mut self) -> io::Result<(W, u64)> {
        self.flush_events()?;
        let mut body = Vec::with_capacity(12);
        put_u64(&mut body, self.events);
        put_u32(&mut body, self.chunks);
        self.chunk(CHUNK_END, &body)?;
        self.out.flush()?;
        Ok((self.out, self.events))
    }
}
