//! Outputs written piece by piece (S3 multipart uploads, temporary files locally): what a
//! million-row plan relies on to stay within its memory.

use crate::helpers::Harness;
use onboarding::ports::PART_BYTES;
use sha2::{Digest, Sha256};

/// Bytes that differ from piece to piece, so a part lost, repeated or out of order shows.
fn piece(number: usize, size: usize) -> Vec<u8> {
    (0..size).map(|i| ((number * 31 + i * 7) % 251) as u8).collect()
}

pub async fn large_outputs_are_written_in_parts_and_appear_only_when_finished(h: Harness) {
    let key = "reports/users/big/plan.csv";
    let pieces = (2 * PART_BYTES + PART_BYTES / 2) / (64 * 1024) + 1;
    let mut expected = Sha256::new();
    let mut out = h.objects.create(key, "text/csv").await.unwrap();
    for number in 0..pieces {
        let bytes = piece(number, 64 * 1024 + number % 5);
        expected.update(&bytes);
        out.write(&bytes).await.unwrap();
    }
    assert!(h.objects.get(key).await.is_err(), "an unfinished object must not be visible");
    out.finish().await.unwrap();
    let stored = h.objects.get(key).await.unwrap();
    assert!(stored.len() > 2 * PART_BYTES, "the test must span several parts: {} bytes", stored.len());
    assert_eq!(hex::encode(Sha256::digest(&stored)), hex::encode(expected.finalize()), "the parts came back changed");

    // A writer dropped half-way (a crash, an error) leaves the object as it was.
    let mut out = h.objects.create(key, "text/csv").await.unwrap();
    out.write(&vec![b'x'; PART_BYTES + 1]).await.unwrap();
    out.write(b"more").await.unwrap();
    drop(out);
    assert_eq!(h.objects.get(key).await.unwrap(), stored, "an unfinished rewrite changed the object");
    let listed = h.objects.list("reports/users/big/").await.unwrap();
    assert_eq!(listed, vec![key.to_string()], "an unfinished rewrite left something behind");

    // A small object is one piece, written whole.
    let small = "reports/users/big/summary.json";
    let mut out = h.objects.create(small, "application/json").await.unwrap();
    out.write(b"{").await.unwrap();
    out.write(b"}").await.unwrap();
    out.finish().await.unwrap();
    assert_eq!(h.objects.get(small).await.unwrap(), b"{}");
}
