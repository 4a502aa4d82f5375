//! The life of a quarantined item as a state machine: every state, every
//! event, and the one function that says where an event leads.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::verdict::{RuleMatch, Verdict};

/// Where an item is in its life. Stored in the journal as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Being copied from the inbox into the store.
    Ingesting,
    /// In the store, waiting to be scanned.
    Stored,
    /// A scan is running.
    Scanning,
    /// Scanned: no rule matched.
    Clean,
    /// Scanned: at least one rule matched.
    Infected {
        /// The rules that matched.
        matches: Vec<RuleMatch>,
    },
    /// The scan could not finish; never treated as clean.
    Error {
        /// Why.
        reason: String,
    },
    /// Larger than the policy allows scanning; not scanned.
    TooLarge {
        /// The item's size in bytes.
        size: u64,
        /// The policy's limit in bytes.
        limit: u64,
    },
    /// Being released (the journal says so before the file moves).
    Releasing {
        /// Where to, as `shared` or `profile:NAME`.
        destination: String,
        /// The verdict it had, to return to if the release fails.
        verdict: Verdict,
        /// Who asked for it.
        by: DecidedBy,
    },
    /// Released: the file is now in storage.
    Released {
        /// Where it is.
        path: PathBuf,
    },
    /// Deleted by the user; the object is gone once no other item needs it.
    Deleted,
}

/// The name of a state without its data, as stored in the journal's `state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// [`State::Ingesting`]
    Ingesting,
    /// [`State::Stored`]
    Stored,
    /// [`State::Scanning`]
    Scanning,
    /// [`State::Clean`]
    Clean,
    /// [`State::Infected`]
    Infected,
    /// [`State::Error`]
    Error,
    /// [`State::TooLarge`]
    TooLarge,
    /// [`State::Releasing`]
    Releasing,
    /// [`State::Released`]
    Released,
    /// [`State::Deleted`]
    Deleted,
}

impl StateKind {
    /// Every kind, in life order.
    pub const ALL: [StateKind; 10] = [
        StateKind::Ingesting,
        StateKind::Stored,
        StateKind::Scanning,
        StateKind::Clean,
        StateKind::Infected,
        StateKind::Error,
        StateKind::TooLarge,
        StateKind::Releasing,
        StateKind::Released,
        StateKind::Deleted,
    ];

    /// The journal's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Ingesting => "ingesting",
            StateKind::Stored => "stored",
            StateKind::Scanning => "scanning",
            StateKind::Clean => "clean",
            StateKind::Infected => "infected",
            StateKind::Error => "error",
            StateKind::TooLarge => "too_large",
            StateKind::Releasing => "releasing",
            StateKind::Released => "released",
            StateKind::Deleted => "deleted",
        }
    }

    /// Whether an item in this state needs its object in the store.
    pub fn holds_object(self) -> bool {
        !matches!(
            self,
            StateKind::Ingesting | StateKind::Released | StateKind::Deleted
        )
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl State {
    /// The state's name without its data.
    pub fn kind(&self) -> StateKind {
        match self {
            State::Ingesting => StateKind::Ingesting,
            State::Stored => StateKind::Stored,
            State::Scanning => StateKind::Scanning,
            State::Clean => StateKind::Clean,
            State::Infected { .. } => StateKind::Infected,
            State::Error { .. } => StateKind::Error,
            State::TooLarge { .. } => StateKind::TooLarge,
            State::Releasing { .. } => StateKind::Releasing,
            State::Released { .. } => StateKind::Released,
            State::Deleted => StateKind::Deleted,
        }
    }

    /// The state a verdict puts a scanned item in.
    pub fn from_verdict(verdict: Verdict) -> State {
        match verdict {
            Verdict::Clean => State::Clean,
            Verdict::Infected { matches } => State::Infected { matches },
            Verdict::Error { reason } => State::Error { reason },
            Verdict::TooLarge { size, limit } => State::TooLarge { size, limit },
            // Held as an error (never clean); the typed verdict stays in the
            // journal beside the state.
            Verdict::Unscannable { problem, member } => State::Error {
                reason: Verdict::unscannable_reason(&problem, &member),
            },
        }
    }

    /// The verdict this state stands for, if it is a verdict state.
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            State::Clean => Some(Verdict::Clean),
            State::Infected { matches } => Some(Verdict::Infected {
                matches: matches.clone(),
            }),
            State::Error { reason } => Some(Verdict::Error {
                reason: reason.clone(),
            }),
            State::TooLarge { size, limit } => Some(Verdict::TooLarge {
                size: *size,
                limit: *limit,
            }),
            _ => None,
        }
    }
}

/// Who asked for a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The user (panel, zionctl).
    User,
    /// The auto-release policy.
    Policy,
}

impl DecidedBy {
    /// The audit log's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::User => "user",
            DecidedBy::Policy => "policy",
        }
    }
}

/// Something that happens to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The object is in the store and the journal knows its hash.
    Stored,
    /// A scan begins.
    ScanStarted,
    /// A scan ended with this verdict.
    ScanFinished(Verdict),
    /// The policy found the item too large to scan.
    TooLarge {
        /// The item's size.
        size: u64,
        /// The policy's limit.
        limit: u64,
    },
    /// A scan was interrupted (crash): scan again.
    ScanInterrupted,
    /// The user asked for a new scan.
    Rescan,
    /// A release is asked for.
    Release {
        /// Where to.
        destination: String,
        /// Who asked.
        by: DecidedBy,
        /// The user explicitly accepts releasing an item that did not scan clean.
        override_verdict: bool,
    },
    /// The file is in its destination.
    Released {
        /// Where.
        path: PathBuf,
    },
    /// The release did not happen (nothing moved).
    ReleaseFailed,
    /// The user deleted the item.
    Delete,
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Stored => "stored",
            Event::ScanStarted => "scan started",
            Event::ScanFinished(_) => "scan finished",
            Event::TooLarge { .. } => "too large",
            Event::ScanInterrupted => "scan interrupted",
            Event::Rescan => "rescan",
            Event::Release { .. } => "release",
            Event::Released { .. } => "released",
            Event::ReleaseFailed => "release failed",
            Event::Delete => "delete",
        }
    }
}

/// Why an event cannot happen to an item in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event makes no sense in this state.
    #[error("cannot {event} an item that is {from}")]
    Illegal {
        /// The current state.
        from: StateKind,
        /// The event's name.
        event: &'static str,
    },
    /// Releasing a non-clean item needs the user's explicit override.
    #[error("the item is {from}: releasing it needs an explicit override")]
    NeedsOverride {
        /// The current state.
        from: StateKind,
    },
    /// The policy only ever releases clean items.
    #[error("the policy never releases an item that is {from}; only the user can")]
    NotForPolicy {
        /// The current state.
        from: StateKind,
    },
}

/// The one place that says which state an event leads to. Pure.
pub fn next(state: &State, event: Event) -> Result<State, TransitionError> {
    let from = state.kind();
    let illegal = |event: &Event| TransitionError::Illegal {
        from,
        event: event.name(),
    };
    use StateKind as K;
    match (from, event) {
        (K::Ingesting, Event::Stored) => Ok(State::Stored),
        (K::Stored, Event::ScanStarted) => Ok(State::Scanning),
        (K::Stored, Event::TooLarge { size, limit }) => Ok(State::TooLarge { size, limit }),
        (K::Scanning, Event::ScanFinished(verdict)) => Ok(State::from_verdict(verdict)),
        (K::Scanning, Event::ScanInterrupted) => Ok(State::Stored),
        (K::Clean | K::Infected | K::Error | K::TooLarge, Event::Rescan) => Ok(State::Stored),
        (
            K::Clean | K::Infected | K::Error | K::TooLarge,
            Event::Release {
                destination,
                by,
                override_verdict,
            },
        ) => {
            match (from, by) {
                (K::Clean, _) => {}
                (_, DecidedBy::Policy) => return Err(TransitionError::NotForPolicy { from }),
                // Too large means "not scanned by choice": the user may take it.
                (K::TooLarge, DecidedBy::User) => {}
                (_, DecidedBy::User) if override_verdict => {}
                (_, DecidedBy::User) => return Err(TransitionError::NeedsOverride { from }),
            }
            let verdict = state.verdict().ok_or(TransitionError::Illegal {
                from,
                event: "release",
            })?;
            Ok(State::Releasing {
                destination,
                verdict,
                by,
            })
        }
        (K::Releasing, Event::Released { path }) => Ok(State::Released { path }),
        (K::Releasing, Event::ReleaseFailed) => match state {
            State::Releasing { verdict, .. } => Ok(State::from_verdict(verdict.clone())),
            _ => Err(TransitionError::Illegal {
                from,
                event: "release failed",
            }),
        },
        (
            K::Stored | K::Scanning | K::Clean | K::Infected | K::Error | K::TooLarge,
            Event::Delete,
        ) => Ok(State::Deleted),
        (_, event) => Err(illegal(&event)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RuleMatch {
        RuleMatch {
            rule: "EICAR".into(),
            namespace: "default".into(),
            tags: vec![],
            meta: Default::default(),
            member: Vec::new(),
        }
    }

    /// One state of every kind.
    fn states() -> Vec<State> {
        vec![
            State::Ingesting,
            State::Stored,
            State::Scanning,
            State::Clean,
            State::Infected {
                matches: vec![rule()],
            },
            State::Error {
                reason: "worker killed".into(),
            },
            State::TooLarge { size: 10, limit: 5 },
            State::Releasing {
                destination: "shared".into(),
                verdict: Verdict::Clean,
                by: DecidedBy::User,
            },
            State::Released {
                path: "/data/shared/a".into(),
            },
            State::Deleted,
        ]
    }

    fn release(by: DecidedBy, override_verdict: bool) -> Event {
        Event::Release {
            destination: "shared".into(),
            by,
            override_verdict,
        }
    }

    /// One event of every kind (releases in every flavour).
    fn events() -> Vec<Event> {
        vec![
            Event::Stored,
            Event::ScanStarted,
            Event::ScanFinished(Verdict::Clean),
            Event::TooLarge { size: 10, limit: 5 },
            Event::ScanInterrupted,
            Event::Rescan,
            release(DecidedBy::User, false),
            release(DecidedBy::User, true),
            release(DecidedBy::Policy, false),
            release(DecidedBy::Policy, true),
            Event::Released {
                path: "/data/shared/a".into(),
            },
            Event::ReleaseFailed,
            Event::Delete,
        ]
    }

    /// The specification, written as a table apart from `next`.
    fn expected(state: &State, event: &Event) -> Option<State> {
        use StateKind as K;
        let verdict_state = matches!(
            state.kind(),
            K::Clean | K::Infected | K::Error | K::TooLarge
        );
        match (state.kind(), event) {
            (K::Ingesting, Event::Stored) => Some(State::Stored),
            (K::Stored, Event::ScanStarted) => Some(State::Scanning),
            (K::Stored, Event::TooLarge { size, limit }) => Some(State::TooLarge {
                size: *size,
                limit: *limit,
            }),
            (K::Scanning, Event::ScanFinished(v)) => Some(State::from_verdict(v.clone())),
            (K::Scanning, Event::ScanInterrupted) => Some(State::Stored),
            (_, Event::Rescan) if verdict_state => Some(State::Stored),
            (
                k,
                Event::Release {
                    by,
                    override_verdict,
                    destination,
                },
            ) if verdict_state => {
                let allowed = match (k, by) {
                    (K::Clean, _) => true,
                    (_, DecidedBy::Policy) => false,
                    (K::TooLarge, DecidedBy::User) => true,
                    (_, DecidedBy::User) => *override_verdict,
                };
                allowed.then(|| State::Releasing {
                    destination: destination.clone(),
                    verdict: state.verdict().expect("verdict state"),
                    by: *by,
                })
            }
            (K::Releasing, Event::Released { path }) => {
                Some(State::Released { path: path.clone() })
            }
            (K::Releasing, Event::ReleaseFailed) => Some(State::Clean),
            (K::Stored | K::Scanning, Event::Delete) => Some(State::Deleted),
            (_, Event::Delete) if verdict_state => Some(State::Deleted),
            _ => None,
        }
    }

    #[test]
    fn every_state_and_event_pair_follows_the_table() {
        let mut legal = 0;
        let mut illegal = 0;
        for state in states() {
            for event in events() {
                let got = next(&state, event.clone());
                match expected(&state, &event) {
                    Some(want) => {
                        legal += 1;
                        assert_eq!(got.as_ref(), Ok(&want), "{state:?} + {event:?}");
                    }
                    None => {
                        illegal += 1;
                        assert!(
                            got.is_err(),
                            "{state:?} + {event:?} must be refused, got {got:?}"
                        );
                    }
                }
            }
        }
        // 10 states × 13 events.
        assert_eq!(legal + illegal, 130);
        // ingesting 1, stored 3, scanning 3, clean 6, infected 3, error 3, too_large 4, releasing 2.
        assert_eq!(legal, 25, "legal transitions");
    }

    #[test]
    fn infected_needs_an_explicit_override_from_the_user() {
        let infected = State::Infected {
            matches: vec![rule()],
        };
        let err = next(&infected, release(DecidedBy::User, false)).expect_err("refused");
        assert_eq!(
            err,
            TransitionError::NeedsOverride {
                from: StateKind::Infected
            }
        );
        assert!(err.to_string().contains("explicit override"), "{err}");
        let err = next(&infected, release(DecidedBy::Policy, true)).expect_err("refused");
        assert!(err.to_string().contains("policy never releases"), "{err}");
        let ok = next(&infected, release(DecidedBy::User, true)).expect("override");
        assert_eq!(ok.kind(), StateKind::Releasing);
    }

    #[test]
    fn a_failed_release_returns_to_the_verdict_it_had() {
        for state in [
            State::Clean,
            State::Infected {
                matches: vec![rule()],
            },
            State::Error {
                reason: "timeout".into(),
            },
            State::TooLarge { size: 9, limit: 1 },
        ] {
            let releasing = next(&state, release(DecidedBy::User, true)).expect("release");
            let back = next(&releasing, Event::ReleaseFailed).expect("failed");
            assert_eq!(back, state);
        }
    }

    #[test]
    fn released_and_deleted_are_final() {
        for state in [State::Released { path: "/x".into() }, State::Deleted] {
            for event in events() {
                assert!(
                    next(&state, event.clone()).is_err(),
                    "{state:?} + {event:?}"
                );
            }
        }
    }

    #[test]
    fn illegal_transitions_name_the_state_and_the_event() {
        let err = next(&State::Ingesting, Event::Delete).expect_err("illegal");
        assert_eq!(err.to_string(), "cannot delete an item that is ingesting");
        let err = next(&State::Clean, Event::ScanStarted).expect_err("illegal");
        assert_eq!(err.to_string(), "cannot scan started an item that is clean");
    }

    #[test]
    fn states_round_trip_through_the_journal_encoding() {
        for state in states() {
            let text = serde_json::to_string(&state).expect("serialize");
            let back: State = serde_json::from_str(&text).expect("parse");
            assert_eq!(back, state);
            assert!(text.contains(state.kind().as_str()), "{text}");
        }
    }
}
