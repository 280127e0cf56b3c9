//! A tiny, dependency-free edit of an ONNX file: list the graph's inputs and
//! outputs, and promote internal tensors to graph outputs.
//!
//! Only the few protobuf fields involved are decoded; every other byte of
//! the model is copied through untouched:
//!
//! - `ModelProto` field 7 is `graph` (`GraphProto`, length-delimited);
//! - `GraphProto` field 11 is `input` and field 12 is `output` (repeated
//!   `ValueInfoProto`);
//! - `ValueInfoProto` field 1 is `name` (string).
//!
//! Kokoro uses this to expose `/encoder/Clip_output_0`, the per-token frame
//! counts, which the exported graph computes but does not return. An output
//! added here carries only its name; ONNX Runtime infers its type and shape.

use std::ops::Range;

use super::error::{EngineError, EngineResult};

const MODEL_GRAPH: u32 = 7;
const GRAPH_INPUT: u32 = 11;
const GRAPH_OUTPUT: u32 = 12;
const VALUE_INFO_NAME: u32 = 1;

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// Returns `model_bytes` with a graph output appended for every name in
/// `names` that is not already an output (duplicates in `names` are added
/// once). The names are not checked against the graph's tensors: ONNX
/// Runtime rejects an output that no node produces when the model loads.
pub fn add_graph_outputs(model_bytes: &[u8], names: &[&str]) -> EngineResult<Vec<u8>> {
    let graph = find_graph(model_bytes)?;
    let body = &model_bytes[graph.body.clone()];
    let mut outputs = value_info_names(body, GRAPH_OUTPUT)?;

    let mut extra = Vec::new();
    for name in names {
        if name.is_empty() {
            return Err(corrupt_arg("an output name is empty"));
        }
        if outputs.iter().any(|o| o == name) {
            continue;
        }
        let mut info = Vec::with_capacity(name.len() + 6);
        put_len_field(&mut info, VALUE_INFO_NAME, name.as_bytes());
        put_len_field(&mut extra, GRAPH_OUTPUT, &info);
        outputs.push((*name).to_string());
    }
    if extra.is_empty() {
        return Ok(model_bytes.to_vec());
    }

    let new_len = body.len() + extra.len();
    let mut out = Vec::with_capacity(model_bytes.len() + extra.len() + 10);
    // Everything up to and including the graph field's tag, byte for byte.
    out.extend_from_slice(&model_bytes[..graph.tag_end]);
    put_varint(&mut out, new_len as u64);
    out.extend_from_slice(body);
    // Repeated fields keep their order of appearance, so the new outputs
    // come after the existing ones.
    out.extend_from_slice(&extra);
    out.extend_from_slice(&model_bytes[graph.body.end..]);
    Ok(out)
}

/// Names of the graph's outputs, in order.
pub fn graph_output_names(model_bytes: &[u8]) -> EngineResult<Vec<String>> {
    let graph = find_graph(model_bytes)?;
    value_info_names(&model_bytes[graph.body], GRAPH_OUTPUT)
}

/// Names of the graph's inputs, in order. Models older than IR version 4 may
/// also list their initializers here.
pub fn graph_input_names(model_bytes: &[u8]) -> EngineResult<Vec<String>> {
    let graph = find_graph(model_bytes)?;
    value_info_names(&model_bytes[graph.body], GRAPH_INPUT)
}

/// Where the `graph` field sits in a `ModelProto`.
struct GraphField {
    /// End of the field's tag (start of its length varint).
    tag_end: usize,
    /// The serialized `GraphProto`.
    body: Range<usize>,
}

fn find_graph(model: &[u8]) -> EngineResult<GraphField> {
    let mut found: Option<GraphField> = None;
    let mut fields = Fields::new(model);
    while let Some(field) = fields.next_field()? {
        if field.number == MODEL_GRAPH {
            if field.wire != WIRE_LEN {
                return Err(corrupt("the graph field is not length-delimited"));
            }
            if found.is_some() {
                // Protobuf would merge them; no exporter writes this.
                return Err(corrupt("the model has more than one graph field"));
            }
            found = Some(GraphField { tag_end: field.tag_end, body: field.value });
        }
    }
    found.ok_or_else(|| corrupt("the model has no graph"))
}

/// The `name` of every `ValueInfoProto` in the repeated field `number` of a
/// serialized `GraphProto`.
fn value_info_names(graph: &[u8], number: u32) -> EngineResult<Vec<String>> {
    let mut names = Vec::new();
    let mut fields = Fields::new(graph);
    while let Some(field) = fields.next_field()? {
        if field.number != number {
            continue;
        }
        if field.wire != WIRE_LEN {
            return Err(corrupt("a graph input/output is not length-delimited"));
        }
        let mut name = String::new();
        let mut inner = Fields::new(&graph[field.value]);
        while let Some(f) = inner.next_field()? {
            if f.number == VALUE_INFO_NAME && f.wire == WIRE_LEN {
                let bytes = &inner.data[f.value];
                name = std::str::from_utf8(bytes)
                    .map_err(|_| corrupt("a graph input/output name is not UTF-8"))?
                    .to_string();
            }
        }
        names.push(name);
    }
    Ok(names)
}

/// One field of a protobuf message: its number, wire type, where its tag
/// ends, and the byte range of its value (for length-delimited fields, the
/// payload without the length prefix).
struct Field {
    number: u32,
    wire: u8,
    tag_end: usize,
    value: Range<usize>,
}

/// Iterates over the top-level fields of one serialized message.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8]) -> Self {
        Fields { data, pos: 0 }
    }

    fn next_field(&mut self) -> EngineResult<Option<Field>> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let (tag, tag_end) = read_varint(self.data, self.pos)?;
        let wire = (tag & 7) as u8;
        let number = u32::try_from(tag >> 3).map_err(|_| corrupt("field number out of range"))?;
        if number == 0 {
            return Err(corrupt("field number 0"));
        }
        let value = match wire {
            WIRE_VARINT => {
                let (_, end) = read_varint(self.data, tag_end)?;
                tag_end..end
            }
            WIRE_FIXED64 => tag_end..self.checked_end(tag_end, 8)?,
            WIRE_FIXED32 => tag_end..self.checked_end(tag_end, 4)?,
            WIRE_LEN => {
                let (len, start) = read_varint(self.data, tag_end)?;
                let len = usize::try_from(len).map_err(|_| corrupt("length out of range"))?;
                start..self.checked_end(start, len)?
            }
            _ => return Err(corrupt(&format!("unsupported protobuf wire type {wire}"))),
        };
        self.pos = value.end;
        Ok(Some(Field { number, wire, tag_end, value }))
    }

    fn checked_end(&self, start: usize, len: usize) -> EngineResult<usize> {
        start.checked_add(len).filter(|end| *end <= self.data.len()).ok_or_else(|| corrupt("truncated field"))
    }
}

/// Decodes a base-128 varint at `pos`; returns the value and the position
/// after it.
fn read_varint(data: &[u8], mut pos: usize) -> EngineResult<(u64, usize)> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(pos).ok_or_else(|| corrupt("truncated varint"))?;
        pos += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(corrupt("varint overflows 64 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok((value, pos));
        }
    }
    Err(corrupt("varint longer than 10 bytes"))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | u64::from(WIRE_LEN));
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn corrupt(what: &str) -> EngineError {
    EngineError::new("MODEL_CORRUPT", format!("not a readable ONNX model: {what}"))
        .with_hint("the model file is damaged; reinstall it with `hyperframes models install <model>`")
}

fn corrupt_arg(what: &str) -> EngineError {
    EngineError::new("INFERENCE_FAILED", format!("cannot add graph outputs: {what}"))
}

#[cfg(test)]
mod tests;
