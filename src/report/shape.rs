//! The two shapes every report shares: `{"ok": true, …}` and an always-present nullable field.
//! A leaf module, so that domains can give their own reports these shapes without importing the
//! command results in `report`.

use serde::Serialize;

/// `{"ok": true, …result}`: how `--json` prints a result.
#[derive(Serialize)]
pub struct Success<'a, T> {
    ok: bool,
    #[serde(flatten)]
    result: &'a T,
}

impl<'a, T> Success<'a, T> {
    pub fn new(result: &'a T) -> Self {
        Self { ok: true, result }
    }
}

/// A field that is always present, `null` when there is no value. (napi sets an `Option` field of
/// an object only when it is `Some`, and `use_nullable` would make every `Option` of the struct
/// null instead of absent.) Give the field its TypeScript with `ts_type = "T | null"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Nullable<T>(pub Option<T>);

impl<T: napi::bindgen_prelude::ToNapiValue> napi::bindgen_prelude::ToNapiValue for Nullable<T> {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> napi::Result<napi::sys::napi_value> {
        // SAFETY: forwarded as is; the caller upholds `to_napi_value`'s contract.
        unsafe { Option::<T>::to_napi_value(env, val.0) }
    }
}
