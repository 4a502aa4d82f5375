//! Resources follow focus: the profile whose desktop is shown gets
//! `[focus] active_weight` of the CPU, every other running profile
//! `background_weight`, through Podman's resource update, each time the
//! shown desktop changes (see [`crate::follow`], which calls this).
//!
//! The decision is [`plan`], a function of values; [`apply`] carries it
//! out against Podman.

use std::collections::HashMap;

use zion_config::{Focus, DEFAULT_WEIGHT};
use zion_profiles::Capability;

use crate::follow::Observed;
use crate::Session;

/// One change of a profile's CPU weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The profile.
    pub profile: String,
    /// Its new weight (cgroup v2 scale, [`DEFAULT_WEIGHT`] the default).
    pub weight: u32,
}

/// The weight `profile` should have.
fn wanted(focus: &Focus, active: Option<&str>, profile: &str) -> u32 {
    match active {
        // Without a compositor (or with the feature off) nobody is favoured.
        None => DEFAULT_WEIGHT,
        Some(_) if !focus.cpu => DEFAULT_WEIGHT,
        Some(shown) if shown == profile => focus.active_weight,
        Some(_) => focus.background_weight,
    }
}

/// The weight changes that bring running profiles to what `focus` wants
/// with `active` shown, given the weights last `applied` (a profile
/// missing there has its container's default). Only running profiles
/// are updated: a frozen one uses no CPU and is weighed when thawed. Pure.
pub fn plan(
    focus: &Focus,
    active: Option<&str>,
    profiles: &[(&str, Observed)],
    applied: &HashMap<String, u32>,
) -> Vec<Update> {
    profiles
        .iter()
        .filter(|(_, state)| *state == Observed::Running)
        .filter_map(|(name, _)| {
            let weight = wanted(focus, active, name);
            let now = applied.get(*name).copied().unwrap_or(DEFAULT_WEIGHT);
            (weight != now).then(|| Update {
                profile: (*name).to_owned(),
                weight,
            })
        })
        .collect()
}

/// Sets each update's weight on its profile's container through Podman and
/// records it in `applied`. A failure is logged and recorded too, so that it
/// is tried again only when the wanted weight changes, not on every event.
/// Where the machine has no CPU weights (found at start, or from Podman's
/// first refusal) nothing is tried: that was reported once.
pub async fn apply(session: &Session, updates: &[Update], applied: &mut HashMap<String, u32>) {
    for update in updates {
        if !session.capabilities().cpu_weights.is_available() {
            return;
        }
        let name = &update.profile;
        applied.insert(name.clone(), update.weight);
        let shares = Focus::shares(update.weight);
        let found = match session.lifecycle().find(name).await {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("CPU weight of profile `{name}` not set: {e}");
                continue;
            }
        };
        match session
            .lifecycle()
            .client()
            .update_cpu_shares(&found.id, shares)
            .await
        {
            Ok(()) => tracing::info!(
                "profile `{name}`: CPU weight {} (cpu.shares {shares})",
                update.weight
            ),
            // Reported once by the session, as "CPU weights unavailable".
            Err(e) => {
                if session.learn(Capability::CpuWeights, name, &e).await {
                    return;
                }
                tracing::warn!(
                    "CPU weight of profile `{name}` not set to {}: {e}; \
                 check that Podman can manage the cpu cgroup controller \
                 (`podman info` lists the cgroup controllers), or set \
                 `[focus] cpu = false` in zion.toml",
                    update.weight
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Focus = Focus {
        cpu: true,
        active_weight: 400,
        background_weight: 50,
    };
    const OFF: Focus = Focus {
        cpu: false,
        active_weight: 400,
        background_weight: 50,
    };
    const BOTH: [(&str, Observed); 2] =
        [("work", Observed::Running), ("personal", Observed::Running)];

    fn update(profile: &str, weight: u32) -> Update {
        Update {
            profile: profile.to_owned(),
            weight,
        }
    }

    fn applied(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect()
    }

    #[test]
    fn the_shown_profile_is_weighed_up_and_the_others_down() {
        let p = plan(&ON, Some("work"), &BOTH, &HashMap::new());
        assert_eq!(p, [update("work", 400), update("personal", 50)]);
    }

    #[test]
    fn a_switch_swaps_the_weights_and_nothing_else() {
        let before = applied(&[("work", 400), ("personal", 50)]);
        let p = plan(&ON, Some("personal"), &BOTH, &before);
        assert_eq!(p, [update("work", 50), update("personal", 400)]);
    }

    #[test]
    fn weights_already_applied_are_not_sent_again() {
        let now = applied(&[("work", 400), ("personal", 50)]);
        assert!(plan(&ON, Some("work"), &BOTH, &now).is_empty());
    }

    #[test]
    fn a_desktop_of_no_profile_weighs_every_profile_down() {
        let p = plan(&ON, Some("host"), &BOTH, &HashMap::new());
        assert_eq!(p, [update("work", 50), update("personal", 50)]);
    }

    #[test]
    fn without_a_compositor_every_profile_goes_back_to_the_default() {
        let before = applied(&[("work", 400), ("personal", 50)]);
        let p = plan(&ON, None, &BOTH, &before);
        assert_eq!(p, [update("work", 100), update("personal", 100)]);
    }

    #[test]
    fn turned_off_it_restores_the_default_and_then_does_nothing() {
        let before = applied(&[("work", 400), ("personal", 50)]);
        let p = plan(&OFF, Some("work"), &BOTH, &before);
        assert_eq!(p, [update("work", 100), update("personal", 100)]);
        assert!(
            plan(&OFF, Some("work"), &BOTH, &HashMap::new()).is_empty(),
            "off from the start: Podman is never asked"
        );
    }

    #[test]
    fn only_running_profiles_are_updated() {
        let ps = [
            ("work", Observed::Hibernated),
            ("personal", Observed::Other),
            ("gaming", Observed::Running),
        ];
        let p = plan(&ON, Some("work"), &ps, &HashMap::new());
        assert_eq!(p, [update("gaming", 50)]);
    }

    #[test]
    fn a_changed_configuration_applies_its_new_weights() {
        let before = applied(&[("work", 400), ("personal", 50)]);
        let steeper = Focus {
            active_weight: 1000,
            background_weight: 10,
            ..ON
        };
        let p = plan(&steeper, Some("work"), &BOTH, &before);
        assert_eq!(p, [update("work", 1000), update("personal", 10)]);
    }
}
