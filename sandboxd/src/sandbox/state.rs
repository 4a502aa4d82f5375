//! The pure decisions of the sandbox service: a sandbox's states and their
//! transitions, which id comes next, and what the warm pool has to do.

/// Where a sandbox is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxState {
    /// Its container is made and waits, frozen, in the warm pool.
    Pooled,
    /// Being handed out: its browser is starting.
    Starting,
    /// Its browser runs.
    Running,
    /// Being closed: its container is being removed.
    Closing,
}

/// What happens to a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `OpenBrowser` took it (from the pool, or made it now).
    Open,
    /// Its browser started.
    Started,
    /// `Close`, its browser exited, or opening it failed.
    Close,
}

impl SandboxState {
    /// The word `List` shows.
    pub fn word(self) -> &'static str {
        match self {
            SandboxState::Pooled => "pooled",
            SandboxState::Starting => "starting",
            SandboxState::Running => "running",
            SandboxState::Closing => "closing",
        }
    }

    /// The state after `step`, or `None` when the step makes no sense now
    /// (a second Close, a pooled sandbox that "started").
    pub fn next(self, step: Step) -> Option<SandboxState> {
        use SandboxState::*;
        match (self, step) {
            (Pooled, Step::Open) => Some(Starting),
            (Starting, Step::Started) => Some(Running),
            (Pooled | Starting | Running, Step::Close) => Some(Closing),
            _ => None,
        }
    }
}

/// The next sandbox id: one more than any id used before, as read from the
/// quarantine's source names (`sandbox-<profile>-<id>`, kept after a sandbox
/// is gone), so that an id never names two sandboxes' downloads.
pub fn next_id<'a>(sources: impl IntoIterator<Item = &'a str>, live: u64) -> u64 {
    sources
        .into_iter()
        .filter_map(|name| name.strip_prefix("sandbox-"))
        .filter_map(|rest| rest.rsplit_once('-'))
        .filter_map(|(_, id)| id.parse::<u64>().ok())
        .chain(std::iter::once(live))
        .max()
        .unwrap_or(0)
        + 1
}

/// What the warm pool must do to hold `size` sandboxes of `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolPlan {
    /// Pooled sandboxes to remove (another profile's, or too many).
    pub discard: Vec<String>,
    /// How many to make.
    pub create: usize,
}

/// Plans the pool from what it holds: `(id, profile)` of each pooled sandbox.
pub fn pool_plan(pooled: &[(String, String)], target: &str, size: usize) -> PoolPlan {
    let mut keep = 0;
    let mut discard = Vec::new();
    for (id, profile) in pooled {
        if profile == target && keep < size {
            keep += 1;
        } else {
            discard.push(id.clone());
        }
    }
    PoolPlan {
        discard,
        create: size - keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_closes_once_and_never_reopens() {
        let s = SandboxState::Pooled;
        let s = s.next(Step::Open).expect("open");
        assert_eq!(s, SandboxState::Starting);
        let s = s.next(Step::Started).expect("started");
        assert_eq!(s.word(), "running");
        let s = s.next(Step::Close).expect("close");
        assert_eq!(s, SandboxState::Closing);
        assert_eq!(s.next(Step::Close), None);
        assert_eq!(s.next(Step::Open), None);
        assert_eq!(SandboxState::Running.next(Step::Open), None);
        assert_eq!(SandboxState::Pooled.next(Step::Started), None);
    }

    #[test]
    fn ids_are_never_reused_across_runs() {
        let sources = [
            "profile-work",
            "sandbox-work-3",
            "sandbox-my-profile-12",
            "sandbox-x-y",
        ];
        assert_eq!(next_id(sources, 0), 13);
        assert_eq!(next_id(sources, 20), 21);
        assert_eq!(next_id([], 0), 1);
    }

    #[test]
    fn the_pool_keeps_its_size_for_the_target_profile() {
        let pooled = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            pool_plan(&[], "work", 1),
            PoolPlan {
                discard: vec![],
                create: 1
            }
        );
        assert_eq!(
            pool_plan(&pooled(&[("1", "work")]), "work", 1),
            PoolPlan {
                discard: vec![],
                create: 0
            }
        );
        assert_eq!(
            pool_plan(&pooled(&[("1", "personal"), ("2", "work")]), "work", 2),
            PoolPlan {
                discard: vec!["1".into()],
                create: 1
            }
        );
        assert_eq!(
            pool_plan(&pooled(&[("1", "work"), ("2", "work")]), "work", 0),
            PoolPlan {
                discard: vec!["1".into(), "2".into()],
                create: 0
            }
        );
    }
}
