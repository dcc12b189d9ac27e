use super::*;

const KEY: [u8; KEY_LEN] = [7; KEY_LEN];
const SEG: u32 = 64;

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Encrypts `data` fed in pieces of `piece` bytes.
fn encrypt(data: &[u8], segment_size: u32, piece: usize) -> Vec<u8> {
    let mut encryptor = SegmentEncryptor::new(&KEY, Header::new(segment_size).unwrap()).unwrap();
    let mut out = BytesMut::new();
    for chunk in data.chunks(piece.max(1)) {
        encryptor.update(chunk, &mut out).unwrap();
    }
    encryptor.finish(&mut out).unwrap();
    out.to_vec()
}

/// Decrypts an object trusting nothing but the key: the layout comes from its own length, so
/// truncations and extensions must be caught by authentication alone.
fn decrypt(key: &[u8; KEY_LEN], object: &[u8]) -> Result<Vec<u8>, CipherError> {
    let header = Header::parse(object)?;
    let decryptor = SegmentDecryptor::new(key, header)?;
    let count = header.segment_count(object.len() as u64)?;
    let stride = header.segment_size() as usize + TAG_LEN;
    let mut plaintext = Vec::new();
    for (index, segment) in object[HEADER_LEN..].chunks(stride).enumerate() {
        let index = index as u64;
        plaintext.extend(decryptor.decrypt(index, index + 1 == count, segment)?);
    }
    Ok(plaintext)
}

fn sizes(segment: usize) -> [usize; 7] {
    [
        0,
        1,
        segment - 1,
        segment,
        segment + 1,
        3 * segment,
        3 * segment + 5,
    ]
}

#[test]
fn header_round_trips_and_rejects_other_shapes() {
    let header = Header::new(SEG).unwrap();
    let bytes = header.to_bytes();
    assert_eq!(&bytes[..], b"SPV1\x01\0\0\0\0\0\0\x40\0\0\0\0");
    assert_eq!(Header::parse(&bytes), Ok(header));
    for position in (0..HEADER_LEN).filter(|p| !(8..12).contains(p)) {
        let mut bad = bytes;
        bad[position] ^= 1;
        assert_eq!(
            Header::parse(&bad),
            Err(CipherError::Header),
            "byte {position}"
        );
    }
    assert_eq!(Header::parse(&bytes[..15]), Err(CipherError::Header));
    assert_eq!(Header::new(0), Err(CipherError::SegmentSize(0)));
    assert!(Header::new(MAX_SEGMENT_SIZE + 1).is_err());
}

#[test]
fn lengths_are_consistent() {
    for segment in [1u32, 2, 64, DEFAULT_SEGMENT_SIZE] {
        let header = Header::new(segment).unwrap();
        for size in sizes(segment as usize)
            .map(|s| s as u64)
            .into_iter()
            .chain([10_000, 1 << 40])
        {
            let ciphertext_len = header.ciphertext_len(size).unwrap();
            assert_eq!(
                header.plaintext_len(ciphertext_len),
                Ok(size),
                "segment {segment} size {size}"
            );
            assert_eq!(
                header.segment_count(ciphertext_len),
                Ok(header.segments_for(size))
            );
        }
    }
    let header = Header::new(SEG).unwrap();
    assert_eq!(header.ciphertext_len(0), Some(32));
    assert_eq!(header.ciphertext_len(64), Some(16 + 64 + 16));
    assert_eq!(header.ciphertext_len(65), Some(16 + 65 + 32));
    // Lengths no encryptor writes: no segment, a short last segment, an empty last after full.
    for bad in [0, 16, 31, 16 + 80 + 15, 16 + 80 + 16] {
        assert!(header.segment_count(bad).is_err(), "{bad}");
    }
    assert_eq!(header.ciphertext_len(u64::MAX), None);
}

#[test]
fn output_does_not_depend_on_how_the_input_is_split() {
    for size in sizes(SEG as usize) {
        let data = plaintext(size);
        let whole = encrypt(&data, SEG, usize::MAX);
        for piece in [1, 7, 63, 64, 65, 200] {
            assert_eq!(
                encrypt(&data, SEG, piece),
                whole,
                "size {size} piece {piece}"
            );
        }
        let header = Header::new(SEG).unwrap();
        assert_eq!(
            whole.len() as u64,
            header.ciphertext_len(size as u64).unwrap()
        );
    }
}

#[test]
fn round_trips_across_segment_boundaries() {
    for segment in [1u32, 64, DEFAULT_SEGMENT_SIZE] {
        for size in sizes(segment as usize) {
            let data = plaintext(size);
            let object = encrypt(&data, segment, 1000);
            assert_eq!(
                decrypt(&KEY, &object).unwrap(),
                data,
                "segment {segment} size {size}"
            );
        }
    }
}

#[test]
fn every_flipped_bit_is_detected() {
    let object = encrypt(&plaintext(3 * SEG as usize + 20), SEG, 50);
    for position in 0..object.len() {
        for bit in [0x01, 0x80] {
            let mut bad = object.clone();
            bad[position] ^= bit;
            assert!(decrypt(&KEY, &bad).is_err(), "byte {position} bit {bit:#x}");
        }
    }
}

#[test]
fn truncation_at_any_length_is_detected() {
    for size in [0, 1, SEG as usize, 3 * SEG as usize, 3 * SEG as usize + 20] {
        let object = encrypt(&plaintext(size), SEG, 50);
        for len in 0..object.len() {
            assert!(
                decrypt(&KEY, &object[..len]).is_err(),
                "size {size} cut at {len}"
            );
        }
    }
}

#[test]
fn reordering_duplication_and_extension_are_detected() {
    let stride = SEG as usize + TAG_LEN;
    let object = encrypt(&plaintext(4 * SEG as usize), SEG, 64);
    let segment = |i: usize| &object[HEADER_LEN + i * stride..HEADER_LEN + (i + 1) * stride];
    let assemble = |order: &[usize]| {
        let mut out = object[..HEADER_LEN].to_vec();
        order
            .iter()
            .for_each(|&i| out.extend_from_slice(segment(i)));
        out
    };
    assert!(decrypt(&KEY, &assemble(&[0, 1, 2, 3])).is_ok());
    for order in [
        &[1, 0, 2, 3][..],
        &[0, 2, 1, 3],
        &[0, 1, 3, 2],
        &[0, 1, 2],
        &[0, 1, 3],
        &[0, 0, 2, 3],
        &[0, 1, 2, 3, 3],
    ] {
        assert!(decrypt(&KEY, &assemble(order)).is_err(), "{order:?}");
    }
}

#[test]
fn a_different_key_or_segment_size_fails() {
    let object = encrypt(&plaintext(100), SEG, 100);
    assert!(matches!(
        decrypt(&[8; KEY_LEN], &object),
        Err(CipherError::Authentication { segment: 0 })
    ));
    // Re-labelling the segment size changes the associated data.
    let mut relabelled = object.clone();
    relabelled[8..12].copy_from_slice(&132u32.to_be_bytes());
    assert!(decrypt(&KEY, &relabelled).is_err());
}

#[test]
fn spans_cover_exactly_the_touched_segments() {
    let header = Header::new(SEG).unwrap();
    let size = 3 * 64 + 10;
    let span = header.span(size, 0..size).unwrap();
    assert_eq!(span.segments, 0..4);
    assert_eq!(span.ciphertext, 16..header.ciphertext_len(size).unwrap());
    assert_eq!(span.skip, 0);
    let span = header.span(size, 70..130).unwrap();
    assert_eq!(
        (span.segments, span.ciphertext, span.skip),
        (1..3, 16 + 80..16 + 240, 6)
    );
    let span = header.span(size, 64..65).unwrap();
    assert_eq!(
        (span.segments, span.ciphertext, span.skip),
        (1..2, 96..176, 0)
    );
    let span = header.span(size, 195..202).unwrap();
    assert_eq!(
        (span.segments, span.ciphertext, span.skip),
        (3..4, 256..282, 3)
    );
    assert!(header.span(size, 5..5).is_err());
    assert!(header.span(size, 0..size + 1).is_err());
    assert!(header.span(0, 0..1).is_err());
}

#[test]
fn decrypting_a_span_gives_the_plaintext_range() {
    let data = plaintext(5 * SEG as usize + 3);
    let object = encrypt(&data, SEG, 64);
    let header = Header::parse(&object).unwrap();
    let decryptor = SegmentDecryptor::new(&KEY, header).unwrap();
    let size = data.len() as u64;
    let count = header.segments_for(size);
    for (start, end) in [(0, 1), (63, 65), (64, 128), (100, 323), (322, 323)] {
        let span = header.span(size, start..end).unwrap();
        let mut plain = Vec::new();
        for index in span.segments.clone() {
            let range = header.segment_range(size, index).unwrap();
            let segment = &object[range.start as usize..range.end as usize];
            plain.extend(
                decryptor
                    .decrypt(index, index + 1 == count, segment)
                    .unwrap(),
            );
        }
        let skip = span.skip as usize;
        assert_eq!(
            &plain[skip..skip + (end - start) as usize],
            &data[start as usize..end as usize]
        );
    }
}
