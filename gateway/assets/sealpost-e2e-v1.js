// sealpost-e2e-v1 in the browser: the only script of a top-secret document's landing page.
//
// Served by the gateway at /assets/sealpost-e2e-v1.js and allowed by its SHA-256 in the page's
// Content-Security-Policy (the integrity attribute must match), so any change here changes the
// hash the gateway computes at start-up: nothing to update by hand. No dependency, no build step.
//
// The key comes from the URL fragment (#k=<base64url of 32 bytes>), which the browser never sends
// to any server, or from a passphrase typed into the page. The script fetches the handle
// (data-handle) from the vault, decrypts segment by segment with WebCrypto, and offers the file
// only once every segment, the last one included, has verified. The format is in the Rust
// module shared::e2e (shared/src/e2e.rs) and the project's docs.
'use strict';

(() => {
  const HEADER_LEN = 48;
  const SEGMENT = 65536;
  const TAG = 16;
  const STRIDE = SEGMENT + TAG;
  const MAGIC = 'sealpost-e2e';
  const MIN_ITERATIONS = 600000;
  const MAX_ITERATIONS = 10000000;
  const HKDF_INFO = new TextEncoder().encode('sealpost-e2e-v1');

  const $ = (id) => document.getElementById(id);
  const handle = $('e2e').dataset.handle;

  // A failure the viewer is told about, in words.
  class Failure extends Error {}

  const WRONG = 'This document could not be decrypted: the key or passphrase is wrong, or the ' +
    'file was changed on its way. Nothing was saved. Check that you opened the whole link ' +
    'from your message, or the passphrase the sender gave you.';
  const TRUNCATED = 'The download ended before the end of the document. Nothing was saved. ' +
    'Open the link from your message again.';
  const NEEDS_KEY = 'This document needs the key that comes with its link (the part after #). ' +
    'Open the whole link from your message again.';
  const BAD_KEY = 'The key in this link is damaged. Open the whole link from your message again.';

  function status(text) {
    $('status').textContent = text;
    $('status').hidden = false;
  }

  function fail(text) {
    $('error').textContent = text;
    $('error').hidden = false;
    $('status').hidden = true;
    $('save').hidden = true;
  }

  function httpFailure(code) {
    if (code === 404 || code === 410) {
      return new Failure('This page has expired or the document was withdrawn. Open the link ' +
        'from your message again.');
    }
    return new Failure(`The document could not be downloaded (status ${code}). Try again later.`);
  }

  function fromBase64Url(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  // The key of the fragment: null when there is none, a Failure when it is malformed.
  function keyFromFragment() {
    const fragment = location.hash;
    if (!fragment || fragment === '#') return null;
    const match = /^#k=([A-Za-z0-9_-]{43})$/.exec(fragment);
    if (!match) return new Failure(BAD_KEY);
    return fromBase64Url(match[1]);
  }

  function parseHeader(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LEN);
    const magicOk = [...MAGIC].every((c, i) => bytes[i] === c.charCodeAt(0));
    const fixedOk = magicOk && bytes[12] === 1 && bytes[14] === 0 && bytes[15] === 0 &&
      view.getUint32(16) === SEGMENT && bytes[47] === 0;
    const kind = bytes[13];
    const iterations = view.getUint32(20);
    const kindOk = (kind === 1 && iterations === 0) ||
      (kind === 2 && iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS);
    if (!fixedOk || !kindOk) throw new Failure('This is not a document this page can decrypt.');
    return {
      bytes: bytes.slice(0, HEADER_LEN),
      passphrase: kind === 2,
      iterations,
      salt: bytes.slice(24, 40),
      prefix: bytes.slice(40, 47),
    };
  }

  // The AES-256-GCM segment key: HKDF-SHA256 of the key, or PBKDF2-SHA256 of the passphrase.
  async function segmentKey(header, secret) {
    const aes = { name: 'AES-GCM', length: 256 };
    if (header.passphrase !== ('passphrase' in secret)) {
      if (header.passphrase) throw new Failure('needs-passphrase');
      throw new Failure(NEEDS_KEY);
    }
    if (header.passphrase) {
      status('Checking the passphrase…');
      const password = new TextEncoder().encode(secret.passphrase);
      const base = await crypto.subtle.importKey('raw', password, 'PBKDF2', false, ['deriveKey']);
      const params = { name: 'PBKDF2', hash: 'SHA-256', salt: header.salt, iterations: header.iterations };
      return crypto.subtle.deriveKey(params, base, aes, false, ['decrypt']);
    }
    const base = await crypto.subtle.importKey('raw', secret.key, 'HKDF', false, ['deriveKey']);
    const params = { name: 'HKDF', hash: 'SHA-256', salt: header.salt, info: HKDF_INFO };
    return crypto.subtle.deriveKey(params, base, aes, false, ['decrypt']);
  }

  // Nonce of segment `index`: prefix (7 bytes) ‖ index (u32 big-endian) ‖ last flag.
  function nonce(header, index, last) {
    const bytes = new Uint8Array(12);
    bytes.set(header.prefix, 0);
    new DataView(bytes.buffer).setUint32(7, index);
    bytes[11] = last ? 1 : 0;
    return bytes;
  }

  // Verifies and decrypts one segment; null when it does not authenticate.
  async function openSegment(key, header, index, last, segment) {
    if (segment.length <= TAG || segment.length > STRIDE) return null;
    const params = { name: 'AES-GCM', iv: nonce(header, index, last), additionalData: header.bytes, tagLength: 128 };
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, key, segment));
    } catch {
      return null;
    }
  }

  // The name and media type at the start of the first segment, checked as writers check them.
  function parseMetadata(plain) {
    const view = new DataView(plain.buffer, plain.byteOffset, plain.length);
    const field = (at) => {
      if (at + 2 > plain.length) throw new Failure(WRONG);
      const end = at + 2 + view.getUint16(at);
      if (end > plain.length) throw new Failure(WRONG);
      return [plain.subarray(at + 2, end), end];
    };
    const [nameBytes, afterName] = field(0);
    const [typeBytes, used] = field(afterName);
    let name;
    try {
      name = new TextDecoder('utf-8', { fatal: true }).decode(nameBytes);
    } catch {
      throw new Failure(WRONG);
    }
    const type = String.fromCharCode(...typeBytes);
    const nameOk = nameBytes.length >= 1 && nameBytes.length <= 1024 && name !== '.' &&
      name !== '..' && !/[\u0000-\u001f\u007f/\\]/.test(name);
    const typeOk = typeBytes.length >= 1 && typeBytes.length <= 255 &&
      typeBytes.every((b) => b >= 0x20 && b <= 0x7e);
    if (!nameOk || !typeOk) throw new Failure(WRONG);
    return { name, type, used };
  }

  // The type the Blob gets: the original one when it is passive, else a plain download (a blob:
  // URL has the gateway's origin, so an HTML or SVG file must never render from it).
  function blobType(type) {
    const passive = /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/plain|audio\/[\w.+-]+|video\/[\w.+-]+)\s*(;.*)?$/i;
    return passive.test(type) ? type : 'application/octet-stream';
  }

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1);
  }

  // Starts the download of the handle: its body's reader and announced length.
  async function download() {
    let response;
    try {
      response = await fetch(handle, { mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
    } catch {
      throw new Failure('The document could not be downloaded (network error). Try again.');
    }
    if (!response.ok) throw httpFailure(response.status);
    return { reader: response.body.getReader(), total: Number(response.headers.get('Content-Length')) || 0 };
  }

  // Downloads and decrypts the whole document; returns the verified plaintext parts and metadata.
  // On any failure the download is cancelled.
  async function decrypt(secret) {
    status('Downloading and decrypting…');
    const { reader, total } = await download();
    try {
      return await decryptStream(reader, total, secret);
    } catch (error) {
      reader.cancel().catch(() => {});
      throw error;
    }
  }

  async function decryptStream(reader, total, secret) {
    const parts = [];
    let pending = new Uint8Array(0);
    let header = null;
    let key = null;
    let metadata = null;
    let index = 0;
    let received = 0;
    const keep = (plain) => {
      if (index === 0) {
        metadata = parseMetadata(plain);
        parts.push(plain.subarray(metadata.used));
      } else {
        parts.push(plain);
      }
      index += 1;
    };
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch {
        throw new Failure('The download broke off before the end of the document. Nothing was ' +
          'saved. Open the link from your message again.');
      }
      const { done, value } = chunk;
      if (done) break;
      received += value.length;
      const joined = new Uint8Array(pending.length + value.length);
      joined.set(pending, 0);
      joined.set(value, pending.length);
      pending = joined;
      if (!header) {
        if (pending.length < HEADER_LEN) continue;
        header = parseHeader(pending);
        key = await segmentKey(header, secret);
        pending = pending.slice(HEADER_LEN);
      }
      // A segment that more bytes follow is not the last one.
      while (pending.length > STRIDE) {
        const plain = await openSegment(key, header, index, false, pending.subarray(0, STRIDE));
        if (!plain) throw new Failure(WRONG);
        keep(plain);
        pending = pending.slice(STRIDE);
      }
      if (total) status(`Decrypting… ${megabytes(received)} of ${megabytes(total)} MB`);
    }
    if (!header || pending.length <= TAG) throw new Failure(TRUNCATED);
    const last = await openSegment(key, header, index, true, pending);
    if (!last) {
      // A whole segment that is not flagged last: the file was cut at a segment boundary.
      const cut = pending.length === STRIDE && await openSegment(key, header, index, false, pending);
      throw new Failure(cut ? TRUNCATED : WRONG);
    }
    keep(last);
    return { parts, metadata };
  }

  function offer({ parts, metadata }) {
    const blob = new Blob(parts, { type: blobType(metadata.type) });
    parts.length = 0;
    const link = $('save-link');
    link.href = URL.createObjectURL(blob);
    link.download = metadata.name;
    link.rel = 'noreferrer';
    $('save').hidden = false;
    $('error').hidden = true;
    status(`Decrypted and verified: ${metadata.name} (${megabytes(blob.size)} MB).`);
  }

  async function run(secret) {
    try {
      offer(await decrypt(secret));
      $('passphrase-form').hidden = true;
    } catch (error) {
      if (error instanceof Failure && error.message === 'needs-passphrase') {
        status('This document is protected by a passphrase.');
        $('passphrase-form').hidden = false;
      } else {
        fail(error instanceof Failure ? error.message : WRONG);
      }
    }
  }

  $('passphrase-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const passphrase = $('passphrase').value;
    if (!passphrase) return;
    $('error').hidden = true;
    run({ passphrase });
  });

  const key = keyFromFragment();
  // The key has been read: take it out of the address bar and the history entry.
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  if (key instanceof Failure) {
    fail(key.message);
  } else if (key) {
    run({ key });
  } else {
    status('This document needs its key or its passphrase. If the link in your message ends in ' +
      '#k=…, open the whole link from your message again; otherwise enter the passphrase the ' +
      'sender gave you.');
    $('passphrase-form').hidden = false;
  }
})();
