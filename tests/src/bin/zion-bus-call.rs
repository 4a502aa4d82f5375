//! One D-Bus method call from the command line, for the attack tests: mounted
//! into a container (or run as another user), it calls a method on the bus
//! at `$DBUS_SESSION_BUS_ADDRESS` as an attacker's own client would, and
//! prints `ok SIGNATURE` or `error NAME: MESSAGE`.
//!
//! `zion-bus-call DEST PATH INTERFACE METHOD [ARG...]`, each ARG typed:
//! `s:TEXT`, `t:NUMBER` or `b:true|false`.

use std::process::ExitCode;

/// One typed argument.
enum Arg {
    S(String),
    T(u64),
    B(bool),
}

fn parse(arg: &str) -> Result<Arg, String> {
    match arg.split_once(':') {
        Some(("s", text)) => Ok(Arg::S(text.to_owned())),
        Some(("t", n)) => n.parse().map(Arg::T).map_err(|e| format!("`{arg}`: {e}")),
        Some(("b", b)) => b.parse().map(Arg::B).map_err(|e| format!("`{arg}`: {e}")),
        _ => Err(format!("`{arg}` is not s:TEXT, t:NUMBER or b:BOOL")),
    }
}

async fn call(words: &[String]) -> Result<String, (u8, String)> {
    let [dest, path, iface, method, rest @ ..] = words else {
        return Err((
            2,
            "usage: zion-bus-call DEST PATH INTERFACE METHOD [s:TEXT|t:N|b:BOOL]...".into(),
        ));
    };
    let args = rest
        .iter()
        .map(|a| parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (2, e))?;
    let bus = zbus::Connection::session()
        .await
        .map_err(|e| (2, format!("cannot reach the bus: {e}")))?;
    let (dest, path, iface, method) = (
        dest.as_str(),
        path.as_str(),
        iface.as_str(),
        method.as_str(),
    );
    let reply = match args.as_slice() {
        [] => {
            bus.call_method(Some(dest), path, Some(iface), method, &())
                .await
        }
        [Arg::S(a)] => {
            bus.call_method(Some(dest), path, Some(iface), method, &(a,))
                .await
        }
        [Arg::S(a), Arg::S(b)] => {
            bus.call_method(Some(dest), path, Some(iface), method, &(a, b))
                .await
        }
        [Arg::T(a)] => {
            bus.call_method(Some(dest), path, Some(iface), method, &(a,))
                .await
        }
        [Arg::T(a), Arg::S(b)] => {
            bus.call_method(Some(dest), path, Some(iface), method, &(a, b))
                .await
        }
        [Arg::T(a), Arg::B(b)] => {
            bus.call_method(Some(dest), path, Some(iface), method, &(a, b))
                .await
        }
        _ => return Err((2, "this mix of argument types is not supported".into())),
    };
    match reply {
        Ok(reply) => Ok(format!("ok {}", reply.body().signature())),
        Err(zbus::Error::MethodError(name, detail, _)) => {
            Err((1, format!("error {name}: {}", detail.unwrap_or_default())))
        }
        Err(e) => Err((2, format!("the call failed: {e}"))),
    }
}

fn main() -> ExitCode {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zion-bus-call: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(call(&words)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err((code, out)) => {
            println!("{out}");
            ExitCode::from(code)
        }
    }
}
