use super::*;

fn len_field(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len_field(&mut out, number, payload);
    out
}

fn varint_field(number: u32, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, u64::from(number) << 3);
    put_varint(&mut out, value);
    out
}

/// A `ValueInfoProto` with a name and a (fake) type field after it.
fn value_info(name: &str) -> Vec<u8> {
    let mut v = len_field(1, name.as_bytes());
    v.extend(len_field(2, &[0x0a, 0x02, 0x08, 0x01]));
    v
}

/// A `GraphProto` with one node, a name, two inputs, one output, and
/// `padding` bytes of initializer data.
fn graph(padding: usize) -> Vec<u8> {
    let mut g = Vec::new();
    g.extend(len_field(1, b"\x0a\x01x\x12\x01y\x22\x04Clip"));
    g.extend(len_field(2, b"main_graph"));
    g.extend(len_field(5, &vec![0xab; padding]));
    g.extend(len_field(11, &value_info("tokens")));
    g.extend(len_field(11, &value_info("style")));
    g.extend(len_field(12, &value_info("audio")));
    // A fixed32 and fixed64 field the walker must skip over.
    // (Tags of field 20 and above take two bytes.)
    put_varint(&mut g, 20 << 3 | 5);
    g.extend([1, 1, 2, 3]);
    put_varint(&mut g, 21 << 3 | 1);
    g.extend([0, 1, 2, 3, 4, 5, 6, 7]);
    g
}

fn model(graph: &[u8]) -> Vec<u8> {
    let mut m = varint_field(1, 9); // ir_version
    m.extend(len_field(2, b"onnx.quantize")); // producer_name
    m.extend(len_field(7, graph));
    m.extend(len_field(8, &[0x0a, 0x00, 0x10, 0x14])); // opset_import
    m
}

#[test]
fn varints_round_trip() {
    for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, 92_361_271, u32::MAX as u64, u64::MAX] {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        assert_eq!(read_varint(&buf, 0).unwrap(), (v, buf.len()), "{v}");
    }
    let mut buf = Vec::new();
    put_varint(&mut buf, 92_361_271);
    assert_eq!(buf.len(), 4);
    // Non-minimal encoding (padding continuation bytes) still decodes.
    assert_eq!(read_varint(&[0x81, 0x80, 0x80, 0x00], 0).unwrap(), (1, 4));
    assert_eq!(read_varint(&[0x80, 0x80], 0).unwrap_err().code, "MODEL_CORRUPT");
    assert!(read_varint(&[0xff; 11], 0).is_err());
    assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], 0).is_err());
}

#[test]
fn lists_inputs_and_outputs() {
    let m = model(&graph(10));
    assert_eq!(graph_input_names(&m).unwrap(), ["tokens", "style"]);
    assert_eq!(graph_output_names(&m).unwrap(), ["audio"]);
}

#[test]
fn appends_outputs_and_keeps_everything_else() {
    for padding in [0usize, 40, 100, 5_000, 300_000] {
        let g = graph(padding);
        let m = model(&g);
        let edited = add_graph_outputs(&m, &["/encoder/Clip_output_0", "audio", "extra", "extra"]).unwrap();
        assert_eq!(
            graph_output_names(&edited).unwrap(),
            ["audio", "/encoder/Clip_output_0", "extra"],
            "padding {padding}"
        );
        assert_eq!(graph_input_names(&edited).unwrap(), ["tokens", "style"]);

        // Byte-level: the model is the same except for the graph length
        // and the appended output fields at the end of the graph.
        let mut added = len_field(12, &len_field(1, b"/encoder/Clip_output_0"));
        added.extend(len_field(12, &len_field(1, b"extra")));
        let mut new_graph = g.clone();
        new_graph.extend(&added);
        assert_eq!(edited, model(&new_graph), "padding {padding}");

        // Idempotent.
        assert_eq!(add_graph_outputs(&edited, &["extra", "/encoder/Clip_output_0"]).unwrap(), edited);
    }
}

#[test]
fn graph_length_can_grow_a_byte() {
    // A graph of exactly 127 bytes has a one-byte length; adding an
    // output pushes it past 127, so the length takes two bytes.
    let mut g = len_field(12, &len_field(1, b"audio"));
    let pad = 127 - g.len() - 2;
    g.extend(len_field(2, &vec![b'n'; pad]));
    assert_eq!(g.len(), 127);
    let m = model(&g);
    let edited = add_graph_outputs(&m, &["d"]).unwrap();
    assert_eq!(edited.len(), m.len() + 5 + 1);
    assert_eq!(graph_output_names(&edited).unwrap(), ["audio", "d"]);
    // The field after the graph survived.
    assert!(edited.ends_with(&len_field(8, &[0x0a, 0x00, 0x10, 0x14])));
}

#[test]
fn non_minimal_graph_tag_is_preserved() {
    // Tag 7/LEN written as two bytes (0xba 0x00) and the length padded too.
    let g = graph(3);
    let mut m = varint_field(1, 9);
    m.extend([0xba, 0x00]);
    m.push((g.len() as u8 & 0x7f) | 0x80);
    m.push((g.len() >> 7) as u8 | 0x80);
    m.push(0x00);
    m.extend(&g);
    assert_eq!(graph_output_names(&m).unwrap(), ["audio"]);
    let edited = add_graph_outputs(&m, &["d"]).unwrap();
    assert_eq!(&edited[..4], &m[..4]);
    assert_eq!(graph_output_names(&edited).unwrap(), ["audio", "d"]);
}

#[test]
fn nothing_to_add_returns_a_copy() {
    let m = model(&graph(1));
    assert_eq!(add_graph_outputs(&m, &[]).unwrap(), m);
    assert_eq!(add_graph_outputs(&m, &["audio"]).unwrap(), m);
    assert_eq!(add_graph_outputs(&m, &[""]).unwrap_err().code, "INFERENCE_FAILED");
}

#[test]
fn malformed_models_are_rejected() {
    let m = model(&graph(50));
    for cut in [1, 5, m.len() / 2, m.len() - 1] {
        let err = graph_output_names(&m[..cut]).unwrap_err();
        assert_eq!(err.code, "MODEL_CORRUPT", "cut at {cut}");
    }
    assert!(graph_output_names(&[]).unwrap_err().message.contains("no graph"));
    let no_graph = varint_field(1, 9);
    assert!(add_graph_outputs(&no_graph, &["x"]).unwrap_err().message.contains("no graph"));
    // Group wire types are not ONNX.
    assert!(graph_output_names(&[(3 << 3 | 3) as u8]).unwrap_err().message.contains("wire type 3"));
    // Graph as a varint.
    assert!(graph_output_names(&varint_field(7, 1)).is_err());
    // Two graph fields.
    let mut twice = model(&graph(0));
    twice.extend(len_field(7, &graph(0)));
    assert!(graph_output_names(&twice).unwrap_err().message.contains("more than one"));
    // Bad UTF-8 in a name.
    let bad = model(&len_field(12, &len_field(1, &[0xff, 0xfe])));
    assert!(graph_output_names(&bad).unwrap_err().message.contains("UTF-8"));
}

/// The real Kokoro int8 model and its Japanese voice pack (the real-model tier:
/// `HYPERFRAMES_TEST_MODELS_DIR`, see `crate::test_support::real_model`).
#[test]
fn kokoro_durations_output_matches_audio_length() {
    use crate::engines::runtime;
    use crate::test_support::{env_lock, onnxruntime_lib, real_model, EnvGuard};
    use ort::session::Session;
    use ort::value::Tensor;
    use std::time::Instant;

    let Some(dir) = real_model("kokoro") else { return };
    let Some(lib) = onnxruntime_lib() else { return };
    let model_path = dir.join("kokoro-v1.0.int8.onnx");
    let voices_path = dir.join("voices_ja.npz");

    let rt = {
        let _lock = env_lock();
        let set = std::env::var(runtime::ENV_DYLIB_PATH).ok().filter(|v| !v.is_empty());
        let lib = set.unwrap_or_else(|| lib.to_str().expect("a UTF-8 path").to_string());
        let _env = EnvGuard::set(&[(runtime::ENV_DYLIB_PATH, Some(lib.as_str()))]);
        runtime::ensure_loaded().expect("load ONNX Runtime")
    };
    eprintln!("ONNX Runtime {} from {}", rt.version, rt.location.path.display());

    let t0 = Instant::now();
    let bytes = std::fs::read(&model_path).expect("read model");
    let t_read = t0.elapsed();
    let t1 = Instant::now();
    let edited = add_graph_outputs(&bytes, &["/encoder/Clip_output_0"]).unwrap();
    let t_edit = t1.elapsed();
    assert_eq!(graph_output_names(&bytes).unwrap(), ["audio"]);
    assert_eq!(graph_output_names(&edited).unwrap(), ["audio", "/encoder/Clip_output_0"]);
    assert_eq!(graph_input_names(&edited).unwrap(), ["tokens", "style", "speed"]);
    // Tag + length of the output field, tag + length of the name, the name.
    assert_eq!(edited.len(), bytes.len() + 2 + 2 + 22);
    drop(bytes);

    let t2 = Instant::now();
    let mut session = Session::builder(rt.environment())
        .unwrap()
        .with_intra_threads(2)
        .unwrap()
        .commit_from_memory(&edited)
        .expect("ONNX Runtime accepts the edited model");
    let t_load = t2.elapsed();
    drop(edited);

    let style = npz_first_row(&std::fs::read(&voices_path).expect("read voices"), 5);
    // Six phonemes between the pads; Kokoro picks style row min(6, 510) - 1 = 5.
    let tokens: Vec<i64> = vec![0, 50, 83, 54, 156, 57, 135, 0];
    let n = tokens.len();
    let t3 = Instant::now();
    let outputs = session
        .run(ort::inputs![
            "tokens" => Tensor::from_array(([1usize, n], tokens)).unwrap(),
            "style" => Tensor::from_array(([1usize, 256], style)).unwrap(),
            "speed" => Tensor::from_array(([1usize], vec![1.0f32])).unwrap(),
        ])
        .expect("run");
    let t_run = t3.elapsed();
    let (_, audio) = outputs["audio"].try_extract_tensor::<f32>().unwrap();
    let (dshape, durations) = outputs["/encoder/Clip_output_0"].try_extract_tensor::<f32>().unwrap();
    let frames: f64 = durations.iter().map(|d| f64::from(d.round())).sum();
    eprintln!(
        "read {t_read:?}, edit {t_edit:?}, session {t_load:?}, run {t_run:?}; durations shape {dshape:?} = \
         {durations:?}; {} samples, {} frames x 600 = {}",
        audio.len(),
        frames,
        frames * 600.0
    );
    assert_eq!(durations.len(), n);
    assert!(durations.iter().all(|d| *d >= 1.0 && d.fract() == 0.0), "{durations:?}");
    let diff = (frames * 600.0 - audio.len() as f64).abs();
    assert!(diff <= 600.0, "durations give {} samples, audio has {}", frames * 600.0, audio.len());
}

/// Row `row` of the first array in an uncompressed NPZ holding float32
/// `(510, 1, 256)` arrays (just enough to read a Kokoro voice pack).
fn npz_first_row(npz: &[u8], row: usize) -> Vec<f32> {
    let u16_at = |p: usize| u16::from_le_bytes([npz[p], npz[p + 1]]) as usize;
    assert_eq!(&npz[..4], b"PK\x03\x04", "not a zip");
    assert_eq!(u16_at(8), 0, "compressed NPZ entries are not supported here");
    let npy = &npz[30 + u16_at(26) + u16_at(28)..];
    assert_eq!(&npy[..6], b"\x93NUMPY");
    let (header_len, header_start) = if npy[6] == 1 {
        (u16::from_le_bytes([npy[8], npy[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([npy[8], npy[9], npy[10], npy[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&npy[header_start..header_start + header_len]).unwrap();
    assert!(header.contains("'<f4'") && header.contains("False"), "{header}");
    let data = &npy[header_start + header_len..];
    data[row * 1024..(row + 1) * 1024].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
