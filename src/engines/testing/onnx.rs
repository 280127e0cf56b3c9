//! A minimal ONNX protobuf writer (just the messages and fields the fixture graphs use) and the
//! fixture graphs themselves.

pub const FLOAT: i32 = 1;
pub const INT64: i32 = 7;
pub const BOOL: i32 = 9;

#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u32, m: Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

/// A dimension: a fixed size, or a named symbolic one.
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

pub fn value_info(name: &str, elem_type: i32, dims: &[Dim]) -> Vec<u8> {
    value_info_with(name, elem_type, Some(dims))
}

/// A tensor value of unknown shape (e.g. the outputs of an `If` branch).
pub fn value_info_unshaped(name: &str, elem_type: i32) -> Vec<u8> {
    value_info_with(name, elem_type, None)
}

fn value_info_with(name: &str, elem_type: i32, dims: Option<&[Dim]>) -> Vec<u8> {
    let mut tensor = Msg::default();
    tensor.int(1, elem_type as i64);
    if let Some(dims) = dims {
        let mut shape = Msg::default();
        for d in dims {
            let mut dim = Msg::default();
            match d {
                Dim::Fixed(v) => dim.int(1, *v),
                Dim::Named(n) => dim.str(2, n),
            };
            shape.msg(1, dim);
        }
        tensor.msg(2, shape);
    }
    let mut ty = Msg::default();
    ty.msg(1, tensor);
    let mut vi = Msg::default();
    vi.str(1, name).msg(2, ty);
    vi.0
}

/// An initializer or attribute tensor.
pub enum Init {
    F32(&'static str, Vec<i64>, Vec<f32>),
    I64(&'static str, Vec<i64>, Vec<i64>),
    /// Like `F32`, with a name made at run time (e.g. one per layer).
    F32Named(String, Vec<i64>, Vec<f32>),
}

fn encode_tensor(t: &Init) -> Msg {
    let (name, dims, elem, raw): (&str, &Vec<i64>, i32, Vec<u8>) = match t {
        Init::F32(n, d, v) => (n, d, FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Init::I64(n, d, v) => (n, d, INT64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Init::F32Named(n, d, v) => (n.as_str(), d, FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    let mut m = Msg::default();
    for d in dims {
        m.int(1, *d);
    }
    m.int(2, elem as i64).str(8, name).bytes(9, &raw);
    m
}

pub enum Attr {
    Int(&'static str, i64),
    Ints(&'static str, Vec<i64>),
    Tensor(&'static str, Init),
    /// A subgraph (the branches of `If`).
    Graph(&'static str, Graph),
}

/// A subgraph: its nodes may read any value of the enclosing graph by name.
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub outputs: Vec<Vec<u8>>,
}

pub struct Node {
    pub op: &'static str,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<Attr>,
}

pub fn node(op: &'static str, inputs: &[&str], outputs: &[&str], attrs: Vec<Attr>) -> Node {
    Node {
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        attrs,
    }
}

fn encode_node(n: &Node, name: &str) -> Msg {
    let mut m = Msg::default();
    for i in &n.inputs {
        m.str(1, i);
    }
    for o in &n.outputs {
        m.str(2, o);
    }
    m.str(3, name);
    m.str(4, n.op);
    for a in &n.attrs {
        let mut am = Msg::default();
        match a {
            Attr::Int(name, v) => {
                am.str(1, name).int(3, *v).int(20, 2);
            }
            Attr::Ints(name, vs) => {
                am.str(1, name);
                for v in vs {
                    am.int(8, *v);
                }
                am.int(20, 7);
            }
            Attr::Tensor(name, t) => {
                am.str(1, name).msg(5, encode_tensor(t)).int(20, 4);
            }
            Attr::Graph(name, g) => {
                am.str(1, name).msg(6, encode_graph(&g.name, &g.nodes, &[], &[], &g.outputs)).int(20, 5);
            }
        }
        m.msg(5, am);
    }
    m
}

fn encode_graph(name: &str, nodes: &[Node], initializers: &[Init], inputs: &[Vec<u8>], outputs: &[Vec<u8>]) -> Msg {
    let mut g = Msg::default();
    for (i, n) in nodes.iter().enumerate() {
        // Node names are unique across subgraphs too.
        g.msg(1, encode_node(n, &format!("{name}/{}_{i}", n.op)));
    }
    g.str(2, name);
    for t in initializers {
        g.msg(5, encode_tensor(t));
    }
    for i in inputs {
        g.bytes(11, i);
    }
    for o in outputs {
        g.bytes(12, o);
    }
    g
}

/// A whole model: opset 17, IR 8.
pub fn model(nodes: &[Node], initializers: &[Init], inputs: &[Vec<u8>], outputs: &[Vec<u8>]) -> Vec<u8> {
    let g = encode_graph("fixture", nodes, initializers, inputs, outputs);
    let mut opset = Msg::default();
    opset.str(1, "").int(2, 17);
    let mut m = Msg::default();
    m.int(1, 8).str(2, "hyperframes-tests").msg(7, g).msg(8, opset);
    m.0
}

/// The name of Kokoro's internal per-token durations tensor.
pub const KOKORO_DURATIONS: &str = "/encoder/Clip_output_0";

/// A Kokoro-shaped graph: `tokens` int64 [1,T], `style` f32 [1,256], `speed` f32 [1] → `audio` f32 [N].
/// Internally, durations[t] = max(1, round((0.02·token + 2) / speed)) are named like Kokoro's
/// (`/encoder/Clip_output_0`, [1,T], not a graph output), and the audio holds sum(durations)×600
/// samples whose value is the style vector's mean, so voices and speed both show in the output.
/// `tokens_name` lets tests build the newer `input_ids` variant; `with_durations = false` names the
/// durations tensor differently, like an export that lacks it.
pub fn kokoro_like(tokens_name: &'static str, with_durations: bool) -> Vec<u8> {
    let durations = if with_durations { KOKORO_DURATIONS } else { "/other/durations" };
    let nodes = vec![
        node("Cast", &[tokens_name], &["tok_f"], vec![Attr::Int("to", FLOAT as i64)]),
        node("Mul", &["tok_f", "k_scale"], &["scaled"], vec![]),
        node("Add", &["scaled", "k_bias"], &["biased"], vec![]),
        node("Div", &["biased", "speed"], &["per_speed"], vec![]),
        node("Round", &["per_speed"], &["rounded"], vec![]),
        node("Clip", &["rounded", "k_one"], &[durations], vec![]),
        node("ReduceSum", &[durations], &["frames"], vec![Attr::Int("keepdims", 0)]),
        node("Mul", &["frames", "k_frame"], &["samples_f"], vec![]),
        node("Cast", &["samples_f"], &["samples_i"], vec![Attr::Int("to", INT64 as i64)]),
        node("Reshape", &["samples_i", "k_shape1"], &["audio_shape"], vec![]),
        node(
            "ConstantOfShape",
            &["audio_shape"],
            &["ones"],
            vec![Attr::Tensor("value", Init::F32("value", vec![1], vec![1.0]))],
        ),
        node("ReduceMean", &["style"], &["style_mean"], vec![Attr::Int("keepdims", 0)]),
        node("Mul", &["ones", "style_mean"], &["audio"], vec![]),
    ];
    let inits = [
        Init::F32("k_scale", vec![], vec![0.02]),
        Init::F32("k_bias", vec![], vec![2.0]),
        Init::F32("k_one", vec![], vec![1.0]),
        Init::F32("k_frame", vec![], vec![600.0]),
        Init::I64("k_shape1", vec![1], vec![1]),
    ];
    let inputs = [
        value_info(tokens_name, INT64, &[Dim::Fixed(1), Dim::Named("sequence_length")]),
        value_info("style", FLOAT, &[Dim::Fixed(1), Dim::Fixed(256)]),
        value_info("speed", FLOAT, &[Dim::Fixed(1)]),
    ];
    let outputs = [value_info("audio", FLOAT, &[Dim::Named("audio_length")])];
    model(&nodes, &inits, &inputs, &outputs)
}

/// Expected per-token durations of [`kokoro_like`] for padded tokens at `speed`.
pub fn kokoro_like_durations(padded_tokens: &[i64], speed: f32) -> Vec<f32> {
    padded_tokens.iter().map(|&t| ((0.02 * t as f32 + 2.0) / speed).round_ties_even().max(1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ort::session::Session;
    use ort::value::Tensor;

    #[test]
    fn kokoro_like_graph_runs_in_onnx_runtime() {
        let rt = crate::engines::runtime::ensure_loaded().expect("ONNX Runtime (npm onnxruntime-node) is installed");
        let mut session =
            Session::builder(rt.environment()).unwrap().commit_from_memory(&kokoro_like("tokens", true)).unwrap();
        let padded = vec![0i64, 50, 83, 54, 0];
        let tokens = Tensor::from_array(([1usize, padded.len()], padded.clone())).unwrap();
        let style = Tensor::from_array(([1usize, 256], vec![0.5f32; 256])).unwrap();
        let speed = Tensor::from_array(([1usize], vec![1.5f32])).unwrap();
        let out = session.run(ort::inputs!["tokens" => tokens, "style" => style, "speed" => speed]).unwrap();
        let (_, audio) = out["audio"].try_extract_tensor::<f32>().unwrap();
        let frames: f32 = kokoro_like_durations(&padded, 1.5).iter().sum();
        assert_eq!(audio.len(), frames as usize * 600);
        assert!(audio.iter().all(|&v| (v - 0.5).abs() < 1e-6));
    }
}
