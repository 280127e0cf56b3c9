//! JS arguments judged by the function they are passed to: a wrong type is a `USAGE` error that
//! names the function, the argument and what it must be.

use napi::bindgen_prelude::*;
use serde_json::Value;

use crate::error::Error as HfError;

/// A JS argument, converted as the call starts but judged by the function: a value of the wrong
/// type becomes a `USAGE` error naming the function, the argument and the type it needs (napi's own
/// conversion error names neither). Functions taking these declare their types with
/// `ts_args_type` (the generated ones would say `Arg`).
pub(crate) struct Arg<T> {
    value: Result<T>,
    got: ValueType,
}

impl<T: FromNapiValue + Wanted> FromNapiValue for Arg<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let got = napi::type_of!(env, value).unwrap_or(ValueType::Unknown);
        if !T::accepts(got) {
            // Converting anyway could leave a JS exception pending (reading fields of `undefined`).
            return Ok(Arg { value: Err(Error::from_status(Status::InvalidArg)), got });
        }
        let value = T::from_napi_value(env, value);
        if value.is_err() {
            // The error is ours to report; a JS exception the conversion raised would be thrown instead.
            let mut pending = false;
            if sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok && pending {
                let mut exception = std::ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut exception);
            }
        }
        Ok(Arg { value, got })
    }
}

impl<T> TypeName for Arg<T> {
    fn type_name() -> &'static str {
        "Arg"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl<T: Wanted> Arg<T> {
    /// The value of argument `name` of `function`, or a `USAGE` error saying what it must be.
    pub(crate) fn get(self, function: &str, name: &str) -> std::result::Result<T, HfError> {
        if !T::accepts(self.got) {
            return Err(usage(function, name, &T::want(), Some(self.got)));
        }
        self.value.map_err(|e| match e.reason.rsplit_once(" on ") {
            // napi names the bad field of an options object: `… on TtsOptions.speed`.
            Some((_, at)) if at.contains('.') && e.status != Status::InvalidArg => {
                let field = camel_case(at.rsplit('.').next().unwrap_or(at));
                usage(function, &format!("{name}.{field}"), expected(e.status), None)
            }
            _ => match e.reason.strip_prefix("Missing field `").and_then(|r| r.strip_suffix('`')) {
                Some(field) => {
                    usage_error(format!("{function}(): `{name}.{}` is required.", camel_case(field)), function)
                }
                // The right kind of value with a wrong part (`[1]` for an array of strings).
                None => usage(function, name, &T::want(), None),
            },
        })
    }
}

/// What an argument's Rust type wants from JS, in words and as a `typeof`.
pub(crate) trait Wanted {
    fn want() -> String;
    fn accepts(got: ValueType) -> bool;
}

impl Wanted for String {
    fn want() -> String {
        "a string".into()
    }
    fn accepts(got: ValueType) -> bool {
        got == ValueType::String
    }
}

impl Wanted for Vec<String> {
    fn want() -> String {
        "an array of strings".into()
    }
    fn accepts(got: ValueType) -> bool {
        got == ValueType::Object
    }
}

/// `buildMedia`'s request.
impl Wanted for Value {
    fn want() -> String {
        "a request object or the path of a request file".into()
    }
    fn accepts(got: ValueType) -> bool {
        matches!(got, ValueType::Object | ValueType::String)
    }
}

impl<T: Wanted> Wanted for Option<T> {
    fn want() -> String {
        format!("{} (or left out)", T::want())
    }
    fn accepts(got: ValueType) -> bool {
        matches!(got, ValueType::Undefined | ValueType::Null) || T::accepts(got)
    }
}

/// Options objects (`#[napi(object)]` structs) and callbacks.
macro_rules! wanted {
    ($want:literal, $kind:expr => $($ty:ty),+) => {$(
        impl $crate::napi::args::Wanted for $ty {
            fn want() -> String {
                $want.into()
            }
            fn accepts(got: napi::ValueType) -> bool {
                got == $kind
            }
        }
    )+};
}
pub(crate) use wanted;

fn expected(status: Status) -> &'static str {
    match status {
        Status::StringExpected => "a string",
        Status::NumberExpected => "a number",
        Status::BooleanExpected => "a boolean",
        Status::ObjectExpected => "an object",
        Status::ArrayExpected => "an array",
        Status::FunctionExpected => "a function",
        _ => "of another type",
    }
}

fn described(got: ValueType) -> &'static str {
    match got {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Object => "an object",
        ValueType::Function => "a function",
        ValueType::BigInt => "a bigint",
        _ => "another kind of value",
    }
}

fn usage(function: &str, name: &str, want: &str, got: Option<ValueType>) -> HfError {
    let got = got.map(|g| format!(", not {}", described(g))).unwrap_or_default();
    usage_error(format!("{function}(): `{name}` must be {want}{got}."), function)
}

fn usage_error(message: String, function: &str) -> HfError {
    HfError::usage(
        message,
        format!("See {function}() in hyperframes' type definitions (index.d.ts) for its arguments."),
    )
}

fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}
