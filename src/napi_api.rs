//! The JS surface: thin wrappers over the same core the CLI uses. Errors cross as
//! `CODE: message\nHint: …` (scrubbed); `lib/index.js` turns them into Errors with `code`/`hint`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

use crate::auth::error::AuthError;
use crate::auth::scrub::scrub;
use crate::auth::{login, session, status};
use crate::environment::Tty;

fn js_error(e: AuthError) -> Error {
    let mut reason = format!("{}: {}", e.code_str(), e.message);
    if let Some(h) = &e.hint {
        reason.push_str("\nHint: ");
        reason.push_str(h);
    }
    Error::new(Status::GenericFailure, scrub(&reason))
}

#[napi(object)]
pub struct TtyInfo {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Runs the `hyperframes` CLI in this process and returns its exit code.
#[napi(catch_unwind, ts_args_type = "argv: Array<string>, tty?: TtyInfo | undefined | null")]
pub fn run_cli(env: Env, argv: Arg<Vec<String>>, tty: Arg<Option<TtyInfo>>) -> Result<i32> {
    let (argv, tty) = (argv.get("runCli", "argv")?, tty.get("runCli", "tty")?);
    let ctx = crate::cli::CliContext {
        tty: tty.map(|t| Tty { stdin: t.stdin, stdout: t.stdout, stderr: t.stderr }),
        node_version: node_version(&env),
    };
    Ok(crate::cli::run(argv, ctx))
}

/// The same report as `hyperframes auth status --json`.
#[napi]
pub async fn auth_status() -> Result<Value> {
    crate::init_logging();
    Ok(status::status(Tty::detect()).await.to_json())
}

#[napi(object)]
pub struct LoginOptions {
    /// Keep the secret in the OS keyring (falls back to the file with a warning).
    pub keyring: Option<bool>,
}

fn login_json(o: login::LoginOutcome) -> Value {
    json!({
        "identity": o.identity,
        "identityError": o.identity_error,
        "inKeyring": o.in_keyring,
        "warnings": o.warnings,
    })
}

/// Saves an API key after HeyGen accepts it; a rejected key is rolled back.
#[napi(ts_args_type = "key: string, options?: LoginOptions | undefined | null")]
pub async fn login_with_api_key(key: Arg<String>, options: Arg<Option<LoginOptions>>) -> Result<Value> {
    crate::init_logging();
    let (key, options) = (key.get("loginWithApiKey", "key")?, options.get("loginWithApiKey", "options")?);
    let keyring = options.and_then(|o| o.keyring).unwrap_or(false);
    login::login_with_api_key(key, keyring).await.map(login_json).map_err(js_error)
}

#[napi(object)]
pub struct LogoutOptions {
    pub keep_api_key: Option<bool>,
}

/// Revokes OAuth tokens (best effort) and removes the stored credential.
#[napi(ts_args_type = "options?: LogoutOptions | undefined | null")]
pub async fn logout(options: Arg<Option<LogoutOptions>>) -> Result<Value> {
    crate::init_logging();
    let options = options.get("logout", "options")?;
    let keep = options.and_then(|o| o.keep_api_key).unwrap_or(false);
    let o = session::logout(keep).await.map_err(js_error)?;
    Ok(json!({
        "removed": o.removed,
        "keptApiKey": o.kept_api_key,
        "envStillSet": o.env_still_set,
        "warnings": o.warnings,
    }))
}

/// Refreshes the stored OAuth access token now.
#[napi]
pub async fn refresh_auth() -> Result<Value> {
    crate::init_logging();
    let o = session::refresh().await.map_err(js_error)?;
    Ok(json!({"expiresAt": o.expires_at.as_ref().map(status::iso)}))
}

/// Which credential resolves and where from — never the secret itself. `null` when signed out.
#[napi]
pub async fn resolve_credential() -> Result<Value> {
    crate::init_logging();
    let store = crate::auth::store::Store::from_env();
    let cred = crate::blocking(move || crate::auth::resolve::try_resolve(&store, chrono::Utc::now()))
        .await
        .map_err(js_error)?;
    Ok(match cred {
        None => Value::Null,
        Some(c) => json!({
            "source": c.source.as_str(),
            "type": c.kind.as_str(),
            "expiresAt": c.expires_at.as_ref().map(status::iso),
            "expired": c.expired,
            "refreshable": c.refreshable,
        }),
    })
}

/// The credential itself, for passing to other tools (like `hyperframes auth token`).
#[napi]
pub async fn auth_token() -> Result<Value> {
    crate::init_logging();
    let c = session::token().await.map_err(js_error)?;
    Ok(json!({"token": c.secret, "type": c.kind.as_str(), "source": c.source.as_str()}))
}

#[napi(object)]
pub struct PlanOptions {
    /// Plan as if offline: hosted providers are never used.
    pub local_only: Option<bool>,
}

/// Which provider each capability will use and why the others are skipped (same as `hyperframes plan --json`).
#[napi(ts_args_type = "options?: PlanOptions | undefined | null", ts_return_type = "Promise<any>")]
pub async fn plan(options: Arg<Option<PlanOptions>>) -> Result<Value> {
    let options = options.get("plan", "options")?;
    let local_only = options.and_then(|o| o.local_only).unwrap_or(false);
    let plans =
        crate::blocking(move || crate::providers::plan::plan_all(&crate::providers::plan::Facts::gather(local_only)))
            .await;
    Ok(json!({"plans": plans.iter().map(|p| p.to_json()).collect::<Vec<_>>()}))
}

fn node_version(env: &Env) -> Option<String> {
    env.get_node_version().ok().map(|v| format!("v{}.{}.{}", v.major, v.minor, v.patch))
}

/// The same report as `hyperframes doctor --json`.
#[napi(ts_return_type = "Promise<any>")]
pub fn doctor(env: &Env) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    let version = node_version(env);
    env.spawn_future(async move { Ok(crate::blocking(move || crate::doctor::run(version.as_deref())).await.to_json()) })
}

/// Whether this JS environment is closing (its `process` emitted `exit`, or Node is tearing it
/// down): work still running stops calling into it.
#[derive(Clone, Default)]
pub(crate) struct Closing(Arc<AtomicBool>);

impl Closing {
    /// This environment's flag (a fresh, never-set one if the addon was not initialised in it).
    pub(crate) fn of(env: &Env) -> Closing {
        env.get_instance_data::<Closing>().ok().flatten().map(|c| c.clone()).unwrap_or_default()
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `code`: the status `process.exit` announced, when known.
    fn set(&self, code: Option<i32>) {
        self.0.store(true, Ordering::SeqCst);
        exit_guard::arm(code);
    }
}

/// `process.on(event, listener)`.
type ListenerAdder<'env> = Function<'env, FnArgs<(&'env str, Function<'env, (), ()>)>, Unknown<'env>>;

/// Runs when the addon loads into a JS environment: marks the environment closing on `exit` and
/// on teardown (workers, embedders), and arms the exit guard at that moment.
#[napi(module_exports)]
pub fn on_load(_exports: Object, env: Env) -> Result<()> {
    let closing = Closing::default();
    env.set_instance_data(closing.clone(), (), |_| {})?;
    let on_teardown = closing.clone();
    env.add_env_cleanup_hook((), move |_| on_teardown.set(None))?;
    let process: Object = env.get_global()?.get_named_property("process")?;
    let on: ListenerAdder = process.get_named_property("on")?;
    let listener = env.create_function_from_closure("hyperframesOnExit", move |ctx| {
        closing.set(ctx.first_arg::<i32>().ok());
        Ok(())
    })?;
    on.apply(process, FnArgs::from(("exit", listener)))?;
    Ok(())
}

/// `process.exit()` (or the end of `main`) while a local engine is loading or running would run
/// ONNX Runtime's static destructors under the working session, which crashes (signal 11) or
/// prints errors. The guard is an exit handler registered as the exit begins — so it runs before
/// every destructor registered earlier, ONNX Runtime's included — that ends the process at once,
/// with the same status, if an engine is still in use; otherwise exit carries on as usual.
mod exit_guard {
    use std::ffi::{c_int, c_void};
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The status `process.exit` announced, for platforms whose exit handlers are not told it.
    static ANNOUNCED: AtomicI32 = AtomicI32::new(0);

    pub(super) fn arm(code: Option<i32>) {
        if let Some(code) = code {
            ANNOUNCED.store(code, Ordering::SeqCst);
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            extern "C" {
                /// glibc: like `atexit`, but the handler receives the exit status.
                fn on_exit(handler: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
            }
            extern "C" fn handler(status: c_int, _: *mut c_void) {
                end_now_if_busy(status);
            }
            // SAFETY: registers a plain function with no captured state.
            unsafe { on_exit(handler, std::ptr::null_mut()) };
        }
        #[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
        {
            extern "C" fn handler() {
                end_now_if_busy(ANNOUNCED.load(Ordering::SeqCst));
            }
            // SAFETY: registers a plain function with no captured state.
            unsafe { libc::atexit(handler) };
        }
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    fn end_now_if_busy(status: c_int) {
        if crate::engines::loaded::any_in_use() {
            #[cfg(unix)]
            // SAFETY: flushing C stdio and ending the process are valid at any point of exit.
            unsafe {
                libc::fflush(std::ptr::null_mut());
                libc::_exit(status)
            }
        }
    }
}

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
    pub(crate) fn get(self, function: &str, name: &str) -> Result<T> {
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
        impl $crate::napi_api::Wanted for $ty {
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

wanted!("an options object", ValueType::Object => LoginOptions, LogoutOptions, PlanOptions, TtyInfo);

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

fn usage(function: &str, name: &str, want: &str, got: Option<ValueType>) -> Error {
    let got = got.map(|g| format!(", not {}", described(g))).unwrap_or_default();
    usage_error(format!("{function}(): `{name}` must be {want}{got}."), function)
}

fn usage_error(message: String, function: &str) -> Error {
    let hint = format!("See {function}() in hyperframes' type definitions (index.d.ts) for its arguments.");
    Error::new(Status::InvalidArg, format!("USAGE: {message}\nHint: {hint}"))
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
