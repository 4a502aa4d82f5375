//! Zion profiles.
