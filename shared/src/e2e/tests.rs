#![allow(clippy::unwrap_used)]

use secrecy::SecretString;

use super::header::HEADER_LEN;
use super::*;

const SEGMENT: usize = SEGMENT_SIZE as usize;

fn vector_key() -> KeySource {
    KeySource::Key(E2eKey::from_bytes(std::array::from_fn(|i| i as u8)))
}

fn passphrase(text: &str) -> KeySource {
    KeySource::Passphrase(SecretString::from(text))
}

/// The fixed random values of the vectors: salt 0x80..=0x8f, nonce prefix 0xa0..=0xa6.
fn vector_params() -> Params {
    Params {
        salt: std::array::from_fn(|i| 0x80 + i as u8),
        nonce_prefix: std::array::from_fn(|i| 0xa0 + i as u8),
        iterations: PBKDF2_ITERATIONS,
    }
}

fn seal_with(
    source: &KeySource,
    params: Params,
    name: &str,
    content: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let (mut encryptor, mut out) =
        Encryptor::with_params(source, name, "text/plain", params).unwrap();
    for piece in content.chunks(chunk.max(1)) {
        encryptor.push(piece, &mut out).unwrap();
    }
    encryptor.finish(&mut out).unwrap();
    out
}

fn seal(source: &KeySource, content: &[u8]) -> Vec<u8> {
    seal_with(source, Params::random().unwrap(), "a.txt", content, 10_000)
}

/// Feeds `file` in `chunk`-byte pieces: the plaintext released, and how it ended.
fn open(source: &KeySource, file: &[u8], chunk: usize) -> (Vec<u8>, Result<Metadata, E2eError>) {
    let mut decryptor = Decryptor::new(source);
    let mut out = Vec::new();
    for piece in file.chunks(chunk.max(1)) {
        if let Err(error) = decryptor.push(piece, &mut out) {
            return (out, Err(error));
        }
    }
    (out, decryptor.finish())
}

use crate::hex::hex;

/// Key 0x00..=0x1f, name `hello.txt`, media type `text/plain`, content `Hello, Sealpost!\n`.
const VECTOR_KEY: &str = concat!(
    "7365616c706f73742d653265010100000001000000000000808182838485868788898a8b8c8d8e8f",
    "a0a1a2a3a4a5a600e040f3a2925d2884fb98e6daf2f1cfcc86c216931a6134d82a1d2e0c402187d4",
    "3f4bf5528968a06b03850c44b07d1cd876c293e5ff8970ce",
);

/// Passphrase `correct horse battery staple` (600,000 iterations), name `empty.bin`, media type
/// `text/plain`, empty content.
const VECTOR_PASSPHRASE: &str = concat!(
    "7365616c706f73742d6532650102000000010000000927c0808182838485868788898a8b8c8d8e8f",
    "a0a1a2a3a4a5a600620487b17b185332215dd41d80c2c4dfb443ef7b14d5b0c7204fed4968422071",
    "dc277d003d7404",
);

/// Key 0x00..=0x1f, name `ramp.bin`, 150,000 content bytes `i % 251`: three segments. The
/// SHA-256 of the file.
const VECTOR_SEGMENTS_SHA256: &str =
    "b5b8613366bcca54a3d6f43d241d27053197005d81db8a22524c2f6c79321428";

#[test]
fn vector_key_single_segment() {
    let file = seal_with(
        &vector_key(),
        vector_params(),
        "hello.txt",
        b"Hello, Sealpost!\n",
        100,
    );
    assert_eq!(hex(&file), VECTOR_KEY);
}

#[test]
fn vector_passphrase_empty_file() {
    let source = passphrase("correct horse battery staple");
    let file = seal_with(&source, vector_params(), "empty.bin", b"", 100);
    assert_eq!(hex(&file), VECTOR_PASSPHRASE);
    let (plaintext, metadata) = open(&source, &file, 4096);
    assert!(plaintext.is_empty());
    assert_eq!(metadata.unwrap().name, "empty.bin");
}

#[test]
fn vector_three_segments() {
    let content: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let file = seal_with(&vector_key(), vector_params(), "ramp.bin", &content, 4096);
    assert_eq!(file.len(), HEADER_LEN + 150_000 + 4 + 8 + 10 + 3 * TAG_LEN);
    assert_eq!(crate::hex::sha256_hex(&file), VECTOR_SEGMENTS_SHA256);
}

/// Content lengths around the segment boundaries of the plaintext stream (metadata `a.txt`,
/// `text/plain`: 19 bytes before the content).
fn boundary_lengths() -> [usize; 7] {
    let first = SEGMENT - 19;
    [
        0,
        1,
        first,
        first + 1,
        SEGMENT,
        3 * SEGMENT - 19,
        3 * SEGMENT + 5,
    ]
}

#[test]
fn round_trips_across_segment_boundaries_and_chunk_sizes() {
    let source = vector_key();
    for len in boundary_lengths() {
        let content: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let file = seal_with(&source, Params::random().unwrap(), "a.txt", &content, 3000);
        for chunk in [4096, STRIDE, STRIDE + 1, 100_000, file.len()] {
            let (plaintext, metadata) = open(&source, &file, chunk);
            let metadata = metadata.unwrap_or_else(|e| panic!("len {len} chunk {chunk}: {e}"));
            assert_eq!(plaintext, content, "len {len} chunk {chunk}");
            assert_eq!(metadata, Metadata::new("a.txt", "text/plain").unwrap());
        }
    }
}

#[test]
fn file_length_is_header_plus_stream_plus_one_tag_a_segment() {
    for len in boundary_lengths() {
        let file = seal(&vector_key(), &vec![0; len]);
        let stream = 19 + len;
        assert_eq!(
            file.len(),
            HEADER_LEN + stream + stream.div_ceil(SEGMENT) * TAG_LEN
        );
    }
}

#[test]
fn passphrase_round_trip() {
    let source = passphrase("open sesame");
    let content = vec![42u8; SEGMENT + 10];
    let (plaintext, metadata) = open(&source, &seal(&source, &content), 5000);
    assert_eq!(plaintext, content);
    assert!(metadata.is_ok());
}

#[test]
fn metadata_is_known_after_the_first_segment() {
    let file = seal(&vector_key(), &vec![1; 3 * SEGMENT]);
    let mut decryptor = Decryptor::new(&vector_key());
    let mut out = Vec::new();
    decryptor
        .push(&file[..HEADER_LEN + STRIDE + 1], &mut out)
        .unwrap();
    assert_eq!(decryptor.metadata().unwrap().name, "a.txt");
    assert_eq!(out.len(), SEGMENT - 19);
}

#[test]
fn wrong_key_or_passphrase_fails_and_releases_nothing() {
    let content = vec![9u8; 2 * SEGMENT];
    let wrong = KeySource::Key(E2eKey::random());
    for (sealed_with, opened_with) in [
        (vector_key(), wrong),
        (passphrase("right"), passphrase("wrong")),
    ] {
        let file = seal(&sealed_with, &content);
        for chunk in [1000, file.len()] {
            let (plaintext, result) = open(&opened_with, &file, chunk);
            assert!(plaintext.is_empty());
            assert!(
                matches!(result, Err(E2eError::WrongKeyOrCorrupt)),
                "{result:?}"
            );
        }
    }
}

#[test]
fn a_key_for_a_passphrase_file_says_so() {
    let file = seal(&passphrase("pw"), b"x");
    let (_, result) = open(&vector_key(), &file, 1000);
    assert!(matches!(result, Err(E2eError::NeedsPassphrase)));
    let file = seal(&vector_key(), b"x");
    let (_, result) = open(&passphrase("pw"), &file, 1000);
    assert!(matches!(result, Err(E2eError::NeedsKey)));
}

#[test]
fn any_flipped_byte_fails_and_only_earlier_segments_are_released() {
    let content: Vec<u8> = (0..3 * SEGMENT).map(|i| i as u8).collect();
    let file = seal(&vector_key(), &content);
    let positions = [
        0,
        13,
        17,
        30,
        45,
        HEADER_LEN,
        HEADER_LEN + 100,
        HEADER_LEN + STRIDE - 1,
    ];
    let later = [
        HEADER_LEN + STRIDE + 5,
        HEADER_LEN + 3 * STRIDE + 3,
        file.len() - 1,
    ];
    for at in positions.into_iter().chain(later) {
        let mut tampered = file.clone();
        tampered[at] ^= 0x01;
        let (plaintext, result) = open(&vector_key(), &tampered, 4096);
        assert!(result.is_err(), "flip at {at} accepted");
        // What was released is a verified prefix: whole segments before the flipped one.
        assert!(content.starts_with(&plaintext), "flip at {at}");
        let segments_before = at.saturating_sub(HEADER_LEN) / STRIDE;
        assert!(
            plaintext.len() <= (segments_before * SEGMENT).saturating_sub(19),
            "flip at {at}"
        );
    }
}

#[test]
fn truncation_is_caught() {
    let file = seal(&vector_key(), &vec![5; 2 * SEGMENT]);
    for (cut, expect_truncated) in [
        (0, true),
        (HEADER_LEN - 1, true),
        (HEADER_LEN, true),
        (HEADER_LEN + STRIDE, true),
        (HEADER_LEN + 2 * STRIDE, true),
        (HEADER_LEN + STRIDE + 100, false),
        (file.len() - 1, false),
    ] {
        let (_, result) = open(&vector_key(), &file[..cut], 4096);
        match result {
            Err(E2eError::Truncated) => assert!(expect_truncated, "cut {cut}"),
            Err(E2eError::WrongKeyOrCorrupt) => assert!(!expect_truncated, "cut {cut}"),
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn reordered_or_duplicated_segments_fail() {
    let file = seal(&vector_key(), &vec![5; 3 * SEGMENT]);
    let segment =
        |i: usize| &file[HEADER_LEN + i * STRIDE..(HEADER_LEN + (i + 1) * STRIDE).min(file.len())];
    for order in [[0, 2, 1, 3], [0, 1, 1, 3], [1, 0, 2, 3]] {
        let mut reordered = file[..HEADER_LEN].to_vec();
        for i in order {
            reordered.extend_from_slice(segment(i));
        }
        let (_, result) = open(&vector_key(), &reordered, 4096);
        assert!(
            matches!(result, Err(E2eError::WrongKeyOrCorrupt)),
            "{order:?}"
        );
    }
    // The last segment dropped, the one before it now last: it was sealed as not last.
    let (_, result) = open(&vector_key(), &file[..HEADER_LEN + 3 * STRIDE], 4096);
    assert!(matches!(result, Err(E2eError::Truncated)));
}

#[test]
fn bytes_after_the_last_segment_fail() {
    // A full last segment (the stream is exactly two segments) and a short one.
    for len in [2 * SEGMENT - 19, 10] {
        let file = seal(&vector_key(), &vec![3; len]);
        // The extra byte in a later push than the last segment: named as such.
        let mut decryptor = Decryptor::new(&vector_key());
        let mut out = Vec::new();
        decryptor.push(&file, &mut out).unwrap();
        assert!(matches!(
            decryptor.push(b"x", &mut out),
            Err(E2eError::TrailingData)
        ));
        // In the same push: a full last segment is recognised; where a short one would end
        // cannot be known, so that is a modified file.
        let mut extended = file.clone();
        extended.push(0);
        let (_, result) = open(&vector_key(), &extended, extended.len());
        match result {
            Err(E2eError::TrailingData) => assert_eq!(len, 2 * SEGMENT - 19),
            Err(E2eError::WrongKeyOrCorrupt) => assert_eq!(len, 10),
            other => panic!("len {len}: {other:?}"),
        }
    }
}

#[test]
fn header_fields_outside_the_format_are_refused() {
    let file = seal(&vector_key(), b"x");
    let bad = |at: usize, value: u8| {
        let mut header: [u8; HEADER_LEN] = file[..HEADER_LEN].try_into().unwrap();
        header[at] = value;
        Header::parse(&header)
    };
    for (at, value) in [
        (0, b'S'),
        (12, 2),
        (13, 3),
        (14, 1),
        (18, 2),
        (23, 1),
        (47, 1),
    ] {
        assert!(
            matches!(bad(at, value), Err(E2eError::BadHeader)),
            "byte {at}"
        );
    }
    // A passphrase file asking for more PBKDF2 work than any writer uses: refused unread.
    let pw = seal(&passphrase("pw"), b"x");
    let mut header: [u8; HEADER_LEN] = pw[..HEADER_LEN].try_into().unwrap();
    header[20] = 0xff;
    assert!(matches!(Header::parse(&header), Err(E2eError::BadHeader)));
}

#[test]
fn fragments_round_trip_and_bad_ones_are_refused() {
    let key = E2eKey::random();
    let fragment = key.to_fragment();
    assert!(
        fragment.starts_with("k=") && fragment.len() == 45,
        "{fragment}"
    );
    for text in [
        fragment.clone(),
        format!("#{fragment}"),
        format!("{fragment}\n"),
    ] {
        assert_eq!(
            E2eKey::from_fragment(&text).unwrap().to_fragment(),
            fragment
        );
    }
    for bad in [
        "",
        "k=",
        "#k=abc",
        "x=AAAA",
        &fragment[..44],
        &format!("{fragment}A"),
        "k=!!!!",
    ] {
        assert!(
            matches!(E2eKey::from_fragment(bad), Err(E2eError::BadKey)),
            "{bad}"
        );
    }
}

#[test]
fn names_and_media_types_follow_the_rules() {
    let source = vector_key();
    for name in [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "a\nb",
        "a\u{7f}",
        &"x".repeat(1025),
    ] {
        assert!(
            Encryptor::new(&source, name, "text/plain").is_err(),
            "{name:?}"
        );
    }
    for media_type in ["", "text/plain\n", "tëxt/plain", &"x".repeat(256)] {
        assert!(
            Encryptor::new(&source, "a", media_type).is_err(),
            "{media_type:?}"
        );
    }
    let name = "Zoë's report (final).pdf";
    let (encryptor, mut file) = Encryptor::new(&source, name, "application/pdf; x=1").unwrap();
    encryptor.finish(&mut file).unwrap();
    assert_eq!(open(&source, &file, 100).1.unwrap().name, name);
}

#[test]
fn fresh_files_of_the_same_content_differ() {
    let (a, b) = (seal(&vector_key(), b"same"), seal(&vector_key(), b"same"));
    assert_ne!(a[24..47], b[24..47], "salt and nonce prefix are random");
    assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
}
