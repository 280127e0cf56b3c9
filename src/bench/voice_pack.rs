//! `cargo bench --features bench --bench voice_pack`: a full-size 54-voice pack like
//! `voices-v1.0.bin` (stored, about 28 MB): opening reads only the index, the first voice decodes
//! one member, then the other 53. Was a unit test; it writes 28 MB, so it lives here.

use std::io::Write;
use std::time::Instant;

use super::TempDir;
use crate::engines::kokoro::voices::{catalog, VoicePack, STYLE_DIM, VOICE_LEN};

/// `.npy` bytes of one voice (510 × 1 × 256 little-endian f32), header padded as numpy does.
fn npy(seed: f32) -> Vec<u8> {
    let mut header = "{'descr': '<f4', 'fortran_order': False, 'shape': (510, 1, 256), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    for i in 0..VOICE_LEN {
        let v = seed + (i / STYLE_DIM) as f32 + (i % STYLE_DIM) as f32 / 1000.0;
        out.extend(v.to_le_bytes());
    }
    out
}

pub fn run() {
    let tmp = TempDir::new("voice-pack");
    let path = tmp.path().join("voices-v1.0.bin");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (i, voice) in catalog().iter().enumerate() {
        zip.start_file(format!("{}.npy", voice.id), stored).unwrap();
        zip.write_all(&npy(i as f32)).unwrap();
    }
    zip.finish().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();

    let t = Instant::now();
    let pack = VoicePack::open(&path).unwrap();
    let opened = t.elapsed();
    assert_eq!(pack.names().len(), catalog().len());
    let last = catalog().last().unwrap().id;
    let t = Instant::now();
    let row = pack.style(last, 1).unwrap();
    let one = t.elapsed();
    assert_eq!(row[0], (catalog().len() - 1) as f32);
    let t = Instant::now();
    pack.decode_all().unwrap();
    let all = t.elapsed();
    println!(
        "Kokoro voice pack, {} voices, {size} B stored: open {opened:?}, first voice ({last}) {one:?}, the other {} {all:?}",
        catalog().len(),
        catalog().len() - 1
    );
}
