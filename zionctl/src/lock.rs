//! `zionctl lock PROFILE` and `zionctl unlock PROFILE`: the per-profile
//! lock, through the compositor's `org.zionos.Compositor1`.

use std::process::ExitCode;

use zion_bus::Compositor1Proxy;

use crate::bus;
use crate::switch::explain;

/// Runs `zionctl lock PROFILE`.
pub fn lock(profile: &str) -> ExitCode {
    bus::run(async {
        let bus = bus::session().await?;
        let proxy = Compositor1Proxy::new(&bus).await.map_err(explain)?;
        proxy.lock_profile(profile).await.map_err(explain)?;
        println!("{profile} is locked: its desktop is covered and its windows get no input");
        Ok(())
    })
}

/// Runs `zionctl unlock PROFILE`.
pub fn unlock(profile: &str) -> ExitCode {
    bus::run(async {
        let bus = bus::session().await?;
        let proxy = Compositor1Proxy::new(&bus).await.map_err(explain)?;
        proxy.unlock_profile(profile).await.map_err(explain)?;
        println!(
            "the session's locker is asking for your password: {profile} is unlocked once it unlocks"
        );
        Ok(())
    })
}
